import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '@cdc/core';
import { cdcConfigSchema } from './config.js';

const base = { MONGO_URI: 'mongodb://127.0.0.1:27017/?replicaSet=rs0', KAFKA_BROKERS: '127.0.0.1:9092' };
const parse = (env: Record<string, string>) => parseConfig(cdcConfigSchema, { env: { ...base, ...env }, dotenvPath: false });
const problems = (env: Record<string, string>) => {
  try {
    parse(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.variable}: ${p.problem}`);
    throw error;
  }
  return [];
};

test('CDC_SNAPSHOT=when_no_offset no longer overrides CDC_ON_HISTORY_LOST=fail: the combination is refused', () => {
  assert.match(problems({ CDC_SNAPSHOT: 'when_no_offset' }).join('\n'), /^CDC_SNAPSHOT: .*needs CDC_ON_HISTORY_LOST=resnapshot/);
  assert.equal(parse({ CDC_SNAPSHOT: 'when_no_offset', CDC_ON_HISTORY_LOST: 'resnapshot' }).CDC_SNAPSHOT, 'when_no_offset');
});

test('CDC_HEARTBEAT_INTERVAL_MS: 60 s by default, a positive whole number of milliseconds', () => {
  assert.equal(parse({}).CDC_HEARTBEAT_INTERVAL_MS, 60000);
  assert.equal(parse({ CDC_HEARTBEAT_INTERVAL_MS: '5000' }).CDC_HEARTBEAT_INTERVAL_MS, 5000);
  for (const bad of ['0', '-1', '1.5', 'soon']) assert.match(problems({ CDC_HEARTBEAT_INTERVAL_MS: bad }).join('\n'), /^CDC_HEARTBEAT_INTERVAL_MS: /, bad);
});

test('CDC_MAX_MESSAGE_BYTES: 64 MiB by default, within KAFKA_MAX_MESSAGE_BYTES (65 MiB) less room for key, headers and framing', () => {
  const config = parse({});
  assert.equal(config.CDC_MAX_MESSAGE_BYTES, 64 * 1024 * 1024);
  assert.equal(config.KAFKA_MAX_MESSAGE_BYTES, 65 * 1024 * 1024);
  assert.deepEqual(problems({ CDC_MAX_MESSAGE_BYTES: String(65 * 1024 * 1024 - 65536) }), []);
  assert.match(problems({ CDC_MAX_MESSAGE_BYTES: String(65 * 1024 * 1024 - 65535) }).join('\n'), /^CDC_MAX_MESSAGE_BYTES: must be at most KAFKA_MAX_MESSAGE_BYTES - 65536/);
  // A managed cluster capped at 8 MB: lowering the topic limit alone is refused until the event limit follows.
  assert.match(problems({ KAFKA_MAX_MESSAGE_BYTES: '8000000' }).join('\n'), /^CDC_MAX_MESSAGE_BYTES: .*raise KAFKA_MAX_MESSAGE_BYTES/);
  assert.deepEqual(problems({ KAFKA_MAX_MESSAGE_BYTES: '8000000', CDC_MAX_MESSAGE_BYTES: '7900000' }), []);
});
