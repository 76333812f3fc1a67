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

test('large original values are cut in the dead letter, with size and hash of the whole value', () => {
  const big = Buffer.alloc(2000, 0x41);
  const result = classifyRecord(record(big));
  assert.ok(!result.ok);
  const value = JSON.parse(String(deadLetterMessage(result.deadLetter, new Date(), 1000).message.value));
  assert.equal(value.value_truncated, true);
  assert.equal(value.value_size, 2000);
  assert.equal(Buffer.from(value.value_base64, 'base64').length, 1000);
  assert.match(value.value_sha256, /^[0-9a-f]{64}$/);
  const small = JSON.parse(String(deadLetterMessage({ ...result.deadLetter, value: Buffer.from('x') }, new Date(), 1000).message.value));
  assert.equal(small.value_truncated, false);
});
