import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type ChangeStreamDocument } from 'mongodb';
import { ChangeEventSchema, encodeChangeEvent, fromCanonicalJson, RAW_DECODE_OPTIONS } from '@cdc/core';
import { decodeRawChange } from '../source/raw-change.js';
import { changeToEnvelope, changeToRecord, snapshotToEnvelope } from './to-envelope.js';

const id = new ObjectId('65a1b2c3d4e5f60718293a4b');
const base = {
  _id: { _data: '8265A1B2C3000000012B022C0100296E5A1004' },
  ns: { db: 'shop', coll: 'orders' },
  documentKey: { _id: id },
  clusterTime: new Timestamp({ t: 1764151872, i: 5 }),
  wallTime: new Date('2026-11-26T10:11:12.000Z'),
};

test('update keeps updated, removed and truncated fields with exact BSON types', () => {
  const change = {
    ...base,
    operationType: 'update',
    fullDocument: { _id: id, total: Decimal128.fromString('10.50'), qty: Long.fromNumber(3) },
    updateDescription: { updatedFields: { total: Decimal128.fromString('10.50') }, removedFields: ['coupon'], truncatedArrays: [{ field: 'items', newSize: 2 }] },
  } as unknown as ChangeStreamDocument;
  const event = changeToEnvelope(change, { instance: 'cdc-0' });
  assert.ok(ChangeEventSchema.safeParse(event).success);
  assert.equal(event.op, 'update');
  assert.equal(event.document_id, '{"$oid":"65a1b2c3d4e5f60718293a4b"}');
  assert.deepEqual(event.cluster_time, { t: 1764151872, i: 5 });
  assert.equal(event.wall_time, '2026-11-26T10:11:12.000Z');
  assert.equal(event.resume_token, base._id._data);
  assert.deepEqual(event.update_description!.removed_fields, ['coupon']);
  assert.deepEqual(event.update_description!.truncated_arrays, [{ field: 'items', new_size: 2 }]);
  const updated = fromCanonicalJson<{ total: Decimal128 }>(event.update_description!.updated_fields);
  assert.ok(updated.total instanceof Decimal128);
  const doc = fromCanonicalJson<{ qty: Long }>(event.document!);
  assert.ok(doc.qty instanceof Long);
});

test('the same change always maps to the same event id; another change to another', () => {
  const insert = { ...base, operationType: 'insert', fullDocument: { _id: id } } as unknown as ChangeStreamDocument;
  const again = changeToEnvelope(insert, { instance: 'cdc-1' });
  assert.equal(changeToEnvelope(insert, { instance: 'cdc-0' }).event_id, again.event_id);
  const other = { ...insert, _id: { _data: '8265A1B2C3000000022B' } } as unknown as ChangeStreamDocument;
  assert.notEqual(changeToEnvelope(other, { instance: 'cdc-0' }).event_id, again.event_id);
});

test('delete has no document; replace has the new one', () => {
  const del = changeToEnvelope({ ...base, operationType: 'delete' } as unknown as ChangeStreamDocument, { instance: 'cdc-0' });
  assert.equal(del.op, 'delete');
  assert.equal(del.document, null);
  assert.equal(del.update_description, null);
  const rep = changeToEnvelope({ ...base, operationType: 'replace', fullDocument: { _id: id, status: 'new' } } as unknown as ChangeStreamDocument, { instance: 'cdc-0' });
  assert.equal(rep.op, 'replace');
  assert.match(rep.document!, /"status":"new"/);
});

test('stream-end events are not document changes', () => {
  assert.throws(() => changeToEnvelope({ ...base, operationType: 'drop' } as unknown as ChangeStreamDocument, { instance: 'cdc-0' }), /not a document change/);
});

test('snapshot rows are stamped with the snapshot start time and flagged', () => {
  const event = snapshotToEnvelope('shop', 'orders', { _id: id, status: 'paid' }, { t: 100, i: 2 }, { instance: 'cdc-0' });
  assert.ok(ChangeEventSchema.safeParse(event).success);
  assert.equal(event.op, 'snapshot');
  assert.equal(event.source.snapshot, true);
  assert.equal(event.resume_token, null);
  assert.deepEqual(event.cluster_time, { t: 100, i: 2 });
});

const order = {
  _id: id,
  customer: { name: 'Zoë Müller – 東京 🚚', email: 'zoe@example.com', tags: ['vip', 'b2b'] },
  items: [
    { sku: 'A-1', qty: new Int32(2), price: Decimal128.fromString('10.50'), weight: new Double(1) },
    { sku: 'B-"2"\\', qty: new Int32(1), price: Decimal128.fromString('-0.00'), weight: new Double(0.25) },
  ],
  total: Decimal128.fromString('21.00'),
  version: Long.fromString('9007199254740993'),
  created_at: new Date('2026-11-26T10:11:12.345Z'),
  paid: true,
  note: null,
  seen: new Timestamp({ t: 1764151872, i: 3 }),
};

/**
 * The envelope of the change read raw, against the envelope of the same bytes decoded whole (as before); and the
 * record's text written at once (documents quoted as they are written), of both, against JSON.stringify's.
 */
function sameEnvelope(change: Record<string, unknown>): string {
  const bytes = Buffer.from(BSON.serialize(change));
  const whole = BSON.deserialize(bytes, RAW_DECODE_OPTIONS) as ChangeStreamDocument;
  const expected = encodeChangeEvent(changeToEnvelope(whole, { instance: 'cdc-0' }));
  const raw = decodeRawChange(bytes);
  assert.equal(encodeChangeEvent(changeToEnvelope(raw, { instance: 'cdc-0' })), expected);
  assert.equal(changeToRecord(raw, { instance: 'cdc-0' }).value, expected, 'the record written at once, from the bytes');
  assert.equal(changeToRecord(whole, { instance: 'cdc-0' }).value, expected, 'the record written at once, from decoded values');
  return expected;
}

test('a change read raw gives the envelope of the change decoded whole, byte for byte', () => {
  sameEnvelope({ ...base, operationType: 'insert', fullDocument: order });
  sameEnvelope({ ...base, operationType: 'replace', fullDocument: order, fullDocumentBeforeChange: { ...order, paid: false } });
  const update = sameEnvelope({
    ...base,
    operationType: 'update',
    fullDocument: order,
    updateDescription: { updatedFields: { 'items.1.qty': new Int32(3), total: Decimal128.fromString('31.50') }, removedFields: ['coupon'], truncatedArrays: [{ field: 'items', newSize: new Int32(2) }] },
  });
  assert.match(update, /"updated_fields":"\{\\"items.1.qty\\":\{\\"\$numberInt\\":\\"3\\"\}/);
  sameEnvelope({ ...base, operationType: 'update', fullDocument: null, updateDescription: { updatedFields: {}, removedFields: [], truncatedArrays: [] } });
  sameEnvelope({ ...base, operationType: 'delete' });
});

test('documents with types written by bson (binary, regex) and names JS reorders come out the same', () => {
  sameEnvelope({ ...base, operationType: 'insert', fullDocument: { _id: id, blob: new Binary(Buffer.from([1, 2, 3]), 4), re: new BSON.BSONRegExp('^a', 'i') } });
  sameEnvelope({ ...base, operationType: 'insert', fullDocument: new Map<string, unknown>([['_id', id], ['b', 1], ['2', 'two']]) });
});

test('names and texts that JSON escapes (quotes, backslashes, control characters, surrogates) come out the same, written at once', () => {
  const odd = { _id: id, 'we"ird\\name': 'tab\there', 'new\nline': '\u0001\u001f', lone: '\ud800x', pair: '🚚 "quoted" \\ back', plain: 'plain text' };
  sameEnvelope({ ...base, operationType: 'insert', fullDocument: odd });
  sameEnvelope({ ...base, operationType: 'update', fullDocument: odd, fullDocumentBeforeChange: odd, updateDescription: { updatedFields: odd, removedFields: ['a"b'], truncatedArrays: [] } });
});
