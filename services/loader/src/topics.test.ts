import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAclPlan, parseConfig } from '@cdc/core';
import { loaderConfigSchema } from './config.js';
import { loaderAcls } from './topics.js';

test("the loader's rights: read the files topic in its group, write its dead-letter topic; no transactional id", () => {
  const config = parseConfig(loaderConfigSchema, { env: { LOADER_FILES_TOPIC: 'files', LOADER_GROUP_ID: 'load', GCP_PROJECT: 'test-project' } });
  assert.equal(formatAclPlan(loaderAcls(config)), 'TOPIC LITERAL files READ\nTOPIC LITERAL files.dlq WRITE\nGROUP LITERAL load READ\n');
});
