import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, Binary, Decimal128, Double, Int32, Long, ObjectId, Timestamp, type ChangeStreamDocument } from 'mongodb';
import { encodeChangeEvent, RAW_DECODE_OPTIONS } from '@cdc/core';
import { changeToEnvelope } from '../transform/to-envelope.js';
import { decodeRawChange } from './raw-change.js';

const id = new ObjectId('65a1b2c3d4e5f60718293a4b');
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
const base = {
  _id: { _data: '8265A1B2C3000000012B022C0100296E5A1004' },
  ns: { db: 'shop', coll: 'orders' },
  documentKey: { _id: id },
  clusterTime: new Timestamp({ t: 1764151872, i: 5 }),
  wallTime: new Date('2026-11-26T10:11:12.000Z'),
};

/** The envelope of the change read raw, against the envelope of the same bytes decoded whole (as before). */
function sameEnvelope(change: Record<string, unknown>): string {
  const bytes = Buffer.from(BSON.serialize(change));
  const whole = BSON.deserialize(bytes, RAW_DECODE_OPTIONS) as ChangeStreamDocument;
  const expected = encodeChangeEvent(changeToEnvelope(whole, { instance: 'cdc-0' }));
  assert.equal(encodeChangeEvent(changeToEnvelope(decodeRawChange(bytes), { instance: 'cdc-0' })), expected);
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
