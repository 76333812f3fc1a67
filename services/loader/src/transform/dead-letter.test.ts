import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { quarantineMessage, type QuarantinedFile } from './dead-letter.js';

const quarantined = (event: Buffer | null, error = 'No magic bytes'): QuarantinedFile => ({
  reason: 'load_failed',
  error,
  filesTopic: 'parquet-files',
  key: 'orders-cdc-0',
  fileId: 'f1',
  path: 'a/b.parquet',
  quarantinedPath: '/data/quarantine/a/b.parquet',
  event,
  source: { topic: 'parquet-files', partition: 1, offset: '42' },
});

test('a quarantined file is reported on <files topic>.dlq with reason, file and original event', () => {
  const event = Buffer.from(JSON.stringify({ file_id: 'f1', path: 'a/b.parquet' }));
  const { topic, message } = quarantineMessage(quarantined(event), new Date('2026-01-01T00:00:00Z'));
  assert.equal(topic, 'parquet-files.dlq');
  assert.deepEqual(message.key, Buffer.from('orders-cdc-0'));
  const sha256 = createHash('sha256').update(event).digest('hex');
  assert.deepEqual(message.headers, { reason: 'load_failed', file_id: 'f1', value_size: String(event.length), value_sha256: sha256 });
  const value = JSON.parse(String(message.value));
  assert.equal(value.reason, 'load_failed');
  assert.equal(value.error, 'No magic bytes');
  assert.deepEqual(Buffer.from(value.value_base64, 'base64'), event);
  assert.equal(value.value_truncated, false);
  assert.equal(value.value_sha256, sha256);
  assert.equal(value.source_offset, '42');
  assert.equal(value.stage, 'loader');
  assert.equal(value.failed_at, '2026-01-01T00:00:00.000Z');
});

test('an event as large as the producer allows, with a long error, is cut so that the record fits; size and sha256 are of the whole event', () => {
  const event = Buffer.alloc(999_000, 0x7b);
  const { message } = quarantineMessage(quarantined(event, 'x'.repeat(200_000)), new Date());
  const size = Buffer.byteLength(String(message.value)) + (message.key as Buffer).length + Object.entries(message.headers as Record<string, string>).reduce((n, [k, v]) => n + k.length + v.length, 0);
  assert.ok(size <= 900_000, `record of ${size} bytes`);
  assert.ok(size > 890_000, 'the room is used');
  const value = JSON.parse(String(message.value));
  assert.equal(value.value_truncated, true);
  assert.equal(value.value_size, 999_000);
  assert.equal(value.value_sha256, createHash('sha256').update(event).digest('hex'));
  const kept = Buffer.from(value.value_base64, 'base64');
  assert.deepEqual(kept, event.subarray(0, kept.length), 'a prefix of the event');
  assert.match(value.error, /^x{16384}… \(cut from 200000 characters\)$/);
});
