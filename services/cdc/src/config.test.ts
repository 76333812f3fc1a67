import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '@cdc/core';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cdcConfigSchema, mongoConnection } from './config.js';

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

test('MONGO_URI_FILE: the connection string from a mounted secret, exactly one of the pair, content checked but never shown', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cdc-mongo-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const uriFile = join(dir, 'uri');
  writeFileSync(uriFile, 'mongodb://cdc:s3cret@mongo:27017/?replicaSet=rs0\n');
  const fromFile = parseConfig(cdcConfigSchema, { env: { KAFKA_BROKERS: '127.0.0.1:9092', MONGO_URI_FILE: uriFile }, dotenvPath: false });
  assert.deepEqual(mongoConnection(fromFile), { uri: 'mongodb://cdc:s3cret@mongo:27017/?replicaSet=rs0', options: {} });
  assert.match(problems({ MONGO_URI_FILE: uriFile }).join('\n'), /^MONGO_URI: set either MONGO_URI or MONGO_URI_FILE/);
  const none = (() => {
    try {
      parseConfig(cdcConfigSchema, { env: { KAFKA_BROKERS: '127.0.0.1:9092' }, dotenvPath: false });
    } catch (error) {
      return error instanceof ConfigError ? error.message : String(error);
    }
    return '';
  })();
  assert.match(none, /MONGO_URI: set either MONGO_URI or MONGO_URI_FILE/);
  writeFileSync(uriFile, 'http://s3cret@mongo\n');
  const bad = parseConfig(cdcConfigSchema, { env: { KAFKA_BROKERS: '127.0.0.1:9092', MONGO_URI_FILE: uriFile }, dotenvPath: false });
  assert.throws(() => mongoConnection(bad), (error: Error) => /MONGO_URI_FILE: the file does not hold a mongodb/.test(error.message) && !error.message.includes('s3cret'));
});

test('MONGO_TLS_CA_FILE and MONGO_TLS_CERT_KEY_FILE turn TLS on and go to the driver as files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cdc-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const ca = join(dir, 'ca.pem');
  const certKey = join(dir, 'client.pem');
  writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
  writeFileSync(certKey, '-----BEGIN CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\n');
  const config = parse({ MONGO_URI: 'mongodb://mongo:27017/?authMechanism=MONGODB-X509', MONGO_TLS_CA_FILE: ca, MONGO_TLS_CERT_KEY_FILE: certKey });
  assert.deepEqual(mongoConnection(config).options, { tls: true, tlsCAFile: ca, tlsCertificateKeyFile: certKey });
  assert.deepEqual(mongoConnection(parse({})).options, {}, 'no files: TLS as the URI says');
  assert.match(problems({ MONGO_TLS_CA_FILE: join(dir, 'missing.pem') }).join('\n'), /^MONGO_TLS_CA_FILE: /);
});

test('identifiers: the topic template, the checkpoint topic and the topic each collection goes to are Kafka topic names, named by variable', () => {
  assert.deepEqual(problems({ CDC_COLLECTIONS: 'shop.orders,shop.order_items', CDC_TOPIC_TEMPLATE: '{db}.{coll}' }), []);
  assert.match(problems({ CDC_TOPIC_TEMPLATE: "{coll}';x" }).join('\n'), /^CDC_TOPIC_TEMPLATE: outside \{db\} and \{coll\} only Kafka topic characters/);
  assert.match(problems({ CDC_CHECKPOINT_TOPIC: 'cdc checkpoints' }).join('\n'), /^CDC_CHECKPOINT_TOPIC: must be a Kafka topic name/);
  // MongoDB allows a collection name that no topic may have
  assert.match(problems({ CDC_COLLECTIONS: 'shop.orders,shop.or+ders' }).join('\n'), /^CDC_COLLECTIONS: shop\.or\+ders would go to topic "or\+ders-cdc", not a Kafka topic name/);
});
