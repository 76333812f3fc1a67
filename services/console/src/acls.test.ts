import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAclPlan, parseConfig } from '@cdc/core';
import { consoleConfigSchema } from './config.js';
import { consoleAcls } from './acls.js';

test("the console's rights: see its groups' offsets and every topic's ends, nothing read, written or joined", () => {
  const config = parseConfig(consoleConfigSchema, { env: { CONSOLE_KAFKA_GROUPS: 'proc,load' } });
  assert.equal(formatAclPlan(consoleAcls(config)), ['GROUP LITERAL proc DESCRIBE', 'GROUP LITERAL load DESCRIBE', 'TOPIC LITERAL * DESCRIBE', ''].join('\n'));
});
