import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeChangeEvent } from '@cdc/core';
import { classifyRecord, deadLetterMessage } from './dead-letter.js';
import { sampleEvent } from '../test-support/events.js';

const record = (value: Buffer | null) => ({ topic: 'orders-cdc', partition: 2, offset: 41, key: Buffer.from('k1'), value, timestamp: '1700000000000' });

test('a valid envelope becomes a row', () => {
  const result = classifyRecord(record(Buffer.from(encodeChangeEvent(sampleEvent('insert', 1)))));
  assert.ok(result.ok);
  assert.equal(result.row.kafka_offset, 41);
});

test('poison records are classified, never thrown', () => {
  const reason = (value: Buffer | null) => {
    const result = classifyRecord(record(value));
    assert.ok(!result.ok);
    return result.deadLetter.reason;
  };
  assert.equal(reason(Buffer.from('{not json')), 'not_json');
  assert.equal(reason(null), 'not_json');
  assert.equal(reason(Buffer.from(JSON.stringify({ ...sampleEvent('insert', 1), schema_version: 2 }))), 'unknown_schema_version');
  assert.equal(reason(Buffer.from(JSON.stringify({ ...sampleEvent('insert', 1), op: 'truncate' }))), 'invalid_envelope');
});

test('the dead-letter record carries reason, error, the original bytes and key, and the source position', () => {
  const bytes = Buffer.from([0xff, 0x00, 0x7b]);
  const result = classifyRecord(record(bytes));
  assert.ok(!result.ok);
  const { topic, message } = deadLetterMessage(result.deadLetter, new Date('2026-01-01T00:00:00Z'));
  assert.equal(topic, 'orders-cdc.dlq');
  assert.deepEqual(message.key, Buffer.from('k1'));
  const value = JSON.parse(String(message.value));
  assert.equal(value.reason, 'not_json');
  assert.match(value.error, /not JSON/);
  assert.deepEqual(Buffer.from(value.value_base64, 'base64'), bytes);
  assert.equal(Buffer.from(value.key_base64, 'base64').toString(), 'k1');
  assert.equal(value.source_topic, 'orders-cdc');
  assert.equal(value.source_partition, 2);
  assert.equal(value.source_offset, 41);
  assert.equal(value.failed_at, '2026-01-01T00:00:00.000Z');
  assert.equal((message.headers as Record<string, string>).reason, 'not_json');
});

test('large original values and keys are cut in the dead letter to fit the limit, with size and hash of the whole value', () => {
  const big = Buffer.alloc(50_000, 0x41);
  const result = classifyRecord({ ...record(big), key: Buffer.alloc(10_000, 0x6b) });
  assert.ok(!result.ok);
  const { message } = deadLetterMessage(result.deadLetter, new Date(), 20_000);
  const headers = message.headers as Record<string, string>;
  const size = Buffer.byteLength(String(message.value)) + (message.key as Buffer).length + Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
  assert.ok(size <= 20_000 && size > 19_000, `record of ${size} bytes`);
  assert.equal((message.key as Buffer).length, 4096, 'the key cut');
  const value = JSON.parse(String(message.value));
  assert.equal(value.key_size, 10_000);
  assert.equal(value.value_truncated, true);
  assert.equal(value.value_size, 50_000);
  const kept = Buffer.from(value.value_base64, 'base64');
  assert.ok(kept.length > 0 && kept.length < 50_000);
  assert.deepEqual(kept, big.subarray(0, kept.length));
  assert.match(value.value_sha256, /^[0-9a-f]{64}$/);
  assert.equal(headers.value_sha256, value.value_sha256);
  assert.equal(headers.value_size, '50000');
  const small = JSON.parse(String(deadLetterMessage({ ...result.deadLetter, value: Buffer.from('x') }, new Date(), 20_000).message.value));
  assert.equal(small.value_truncated, false);
});
