import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quarantineMessage } from './dead-letter.js';

test('a quarantined file is reported on <files topic>.dlq with reason, file and original event', () => {
  const event = Buffer.from(JSON.stringify({ file_id: 'f1', path: 'a/b.parquet' }));
  const { topic, message } = quarantineMessage(
    { reason: 'load_failed', error: 'No magic bytes', filesTopic: 'parquet-files', key: 'orders-cdc-0', fileId: 'f1', path: 'a/b.parquet', quarantinedPath: '/data/quarantine/a/b.parquet', event, source: { topic: 'parquet-files', partition: 1, offset: '42' } },
    new Date('2026-01-01T00:00:00Z'),
  );
  assert.equal(topic, 'parquet-files.dlq');
  assert.equal(message.key, 'orders-cdc-0');
  assert.deepEqual(message.headers, { reason: 'load_failed', file_id: 'f1' });
  const value = JSON.parse(String(message.value));
  assert.equal(value.reason, 'load_failed');
  assert.equal(value.error, 'No magic bytes');
  assert.deepEqual(value.event, { file_id: 'f1', path: 'a/b.parquet' });
  assert.equal(value.source_offset, '42');
  assert.equal(value.stage, 'loader');
  assert.equal(value.failed_at, '2026-01-01T00:00:00.000Z');
});

test('an event that is not JSON travels base64', () => {
  const { message } = quarantineMessage(
    { reason: 'invalid_event', error: 'x', filesTopic: 'f', key: null, fileId: null, path: null, quarantinedPath: null, event: Buffer.from([0xff, 0x00]), source: null },
    new Date(),
  );
  assert.deepEqual(JSON.parse(String(message.value)).event, { value_base64: '/wA=' });
});
