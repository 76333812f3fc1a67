import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '@cdc/core';
import { loaderConfigSchema } from './config.js';

const parse = (env: Record<string, string>) => parseConfig(loaderConfigSchema, { env, dotenvPath: false });

test('the deadlines on BigQuery and Cloud Storage: shipped defaults, and a value below a second fails at start naming the variable', () => {
  const config = parse({});
  assert.equal(config.LOADER_REQUEST_TIMEOUT_MS, 60_000);
  assert.equal(config.LOADER_JOB_TIMEOUT_MS, 900_000);
  for (const variable of ['LOADER_REQUEST_TIMEOUT_MS', 'LOADER_JOB_TIMEOUT_MS']) {
    assert.throws(
      () => parse({ [variable]: '500' }),
      (error: unknown) => error instanceof ConfigError && error.problems.some((p) => p.variable === variable),
    );
  }
});
