import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAclPlan, parseConfig } from '@cdc/core';
import { processorConfigSchema } from './config.js';
import { processorAcls } from './topics.js';

test("the processor's rights: read its input topics in its group, write their dead-letter topics and the files topic, its transactional ids", () => {
  const config = parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPICS: 'orders-cdc,customers-cdc', PROCESSOR_GROUP_ID: 'proc', PROCESSOR_FILES_TOPIC: 'files' } });
  assert.equal(
    formatAclPlan(processorAcls(config)),
    [
      'TOPIC LITERAL orders-cdc READ',
      'TOPIC LITERAL orders-cdc.dlq WRITE',
      'TOPIC LITERAL customers-cdc READ',
      'TOPIC LITERAL customers-cdc.dlq WRITE',
      'TOPIC LITERAL files WRITE',
      'TOPIC LITERAL files.dlq DESCRIBE',
      'GROUP LITERAL proc READ',
      'TRANSACTIONAL_ID PREFIXED proc- WRITE',
      '',
    ].join('\n'),
  );
});
