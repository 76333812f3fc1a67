import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ConfigError, describeConfig, parseConfig } from './load-config.js';
import { secret } from './secret.js';
import { brokerList, port, positiveInt } from './fields.js';

const schema = z.object({
  KAFKA_BROKERS: brokerList('127.0.0.1:9092'),
  MONGO_URI: secret(z.string().startsWith('mongodb')),
  BATCH_SIZE: positiveInt(100),
  HTTP_PORT: port(8080),
});

test('defaults apply and values coerce', () => {
  const config = parseConfig(schema, { env: { MONGO_URI: 'mongodb://h:1', BATCH_SIZE: '7' } });
  assert.deepEqual(config.KAFKA_BROKERS, ['127.0.0.1:9092']);
  assert.equal(config.BATCH_SIZE, 7);
  assert.equal(config.HTTP_PORT, 8080);
});

test('every bad variable is reported at once, by name', () => {
  try {
    parseConfig(schema, { env: { KAFKA_BROKERS: 'nohostport', BATCH_SIZE: '-3', HTTP_PORT: 'abc' } });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const names = error.problems.map((p) => p.variable).sort();
    assert.deepEqual(names, ['BATCH_SIZE', 'HTTP_PORT', 'KAFKA_BROKERS', 'MONGO_URI']);
    assert.match(error.message, /MONGO_URI: is required/);
    assert.match(error.message, /KAFKA_BROKERS: each broker must be host:port/);
  }
});

test('secret values never appear in errors or descriptions', () => {
  const password = 'hunter2-very-secret';
  try {
    parseConfig(schema, { env: { MONGO_URI: `postgres://u:${password}@h` } });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.doesNotMatch(error.message, new RegExp(password));
    assert.match(error.message, /MONGO_URI/);
  }
  const config = parseConfig(schema, { env: { MONGO_URI: `mongodb://u:${password}@h` } });
  assert.equal(describeConfig(schema, config).MONGO_URI, '***');
});

test('loadConfig in a process with a bad environment exits non-zero naming each variable', () => {
  const fixture = fileURLToPath(new URL('./fixtures/print-config.js', import.meta.url));
  const result = spawnSync(process.execPath, [fixture], {
    env: { PATH: process.env.PATH, KAFKA_BROKERS: 'bad broker', BATCH_SIZE: 'zero' },
    encoding: 'utf8',
  });
  assert.equal(result.status, 78);
  assert.match(result.stderr, /KAFKA_BROKERS/);
  assert.match(result.stderr, /BATCH_SIZE/);
  assert.match(result.stderr, /MONGO_URI: is required/);
  assert.equal(result.stdout, '');
});
