import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OPERATIONS } from '@cdc/core';
import { PARQUET_COLUMNS, toRow } from './to-row.js';
import { sampleEvent } from '../test-support/events.js';

const at = { topic: 'orders-cdc', partition: 3, offset: 123456789012 };

test('every column of the schema is filled by the row mapping, in schema order', () => {
  const row = toRow(sampleEvent('update', 1), at);
  assert.deepEqual(Object.keys(row), PARQUET_COLUMNS.map((c) => c.name));
  assert.equal(new Set(PARQUET_COLUMNS.map((c) => c.name)).size, PARQUET_COLUMNS.length);
});

test('an update maps field by field', () => {
  const event = sampleEvent('update', 7, { t: 1764151872, i: 9 });
  const row = toRow(event, at);
  assert.equal(row.event_id, event.event_id);
  assert.equal(row.op, 'update');
  assert.equal(row.db, 'shop');
  assert.equal(row.coll, 'orders');
  assert.equal(row.document_id, '{"$numberInt":"7"}');
  assert.equal(row.cluster_time.toISOString(), '2025-11-26T10:11:12.000Z');
  assert.equal(row.cluster_time_increment, 9);
  assert.equal(row.wall_time?.toISOString(), '2025-11-26T10:11:12.345Z');
  assert.equal(row.snapshot, false);
  assert.equal(row.source_instance, 'cdc-0');
  assert.equal(row.resume_token, '827');
  assert.equal(row.document, event.document);
  assert.equal(row.document_before, event.document_before);
  assert.deepEqual(JSON.parse(row.update_description!), event.update_description);
  assert.equal(row.schema_version, 1);
  assert.equal(row.kafka_topic, 'orders-cdc');
  assert.equal(row.kafka_partition, 3);
  assert.equal(row.kafka_offset, 123456789012);
});

test('optional columns are null when the envelope has no value', () => {
  const del = toRow(sampleEvent('delete', 2), at);
  assert.equal(del.document, null);
  assert.equal(del.update_description, null);
  assert.equal(del.document_before, null);
  const snapshot = toRow(sampleEvent('snapshot', 3), at);
  assert.equal(snapshot.snapshot, true);
  assert.equal(snapshot.resume_token, null);
  assert.equal(snapshot.wall_time, null);
  const { document_before: _ignored, ...withoutBefore } = sampleEvent('insert', 4);
  assert.equal(toRow(withoutBefore, at).document_before, null, 'document_before may be absent from the envelope');
});

test('all operation types map', () => {
  for (const op of OPERATIONS) assert.equal(toRow(sampleEvent(op, 1), at).op, op);
});

test('required columns are exactly the ones the envelope always has', () => {
  const optional = PARQUET_COLUMNS.filter((c) => c.optional).map((c) => c.name);
  assert.deepEqual(optional, ['wall_time', 'resume_token', 'document', 'document_before', 'update_description']);
});
