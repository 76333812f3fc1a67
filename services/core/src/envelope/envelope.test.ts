import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Binary as BinaryType, Double as DoubleType } from 'bson';
import { BSON } from './bson.js';
import { ChangeEventSchema, decodeChangeEvent, encodeChangeEvent, EnvelopeError, type ChangeEvent } from './envelope.js';
import { documentIdOf, fromCanonicalJson, toCanonicalJson } from './bson-json.js';
import { eventIdFromResumeToken, snapshotEventId } from './event-id.js';

const { Binary, BSONRegExp, Decimal128, Double, Int32, Long, ObjectId, Timestamp, UUID } = BSON;

const tricky = {
  _id: new ObjectId('65a1b2c3d4e5f60718293a4b'),
  price: Decimal128.fromString('1234567890.123456789012345678901234'),
  big: Long.fromString('9223372036854775807'),
  int: new Int32(42),
  double: new Double(42),
  fraction: 0.1,
  at: new Date('2026-11-26T10:11:12.345Z'),
  ts: new Timestamp({ t: 1764151872, i: 7 }),
  bin: new Binary(Buffer.from([0, 1, 2, 255]), 0),
  uuid: new UUID('0f8fad5b-d9cb-469f-a165-70867728950e'),
  re: new BSONRegExp('^ab.*c$', 'im'),
  items: [{ sku: 'A', qty: new Int32(1), tags: [['x'], []] }, { sku: 'B', qty: new Int32(2), nested: [{ deep: [{ v: null }] }] }],
  explicitNull: null,
  unicode: 'Zürich – 東京 – 🚚',
  'dotted.name': 1,
  $dollar: 'field names starting with $ are legal since MongoDB 5.0',
};

test('tricky BSON survives canonical Extended JSON with exact types', () => {
  const back = fromCanonicalJson<typeof tricky & { missing?: unknown }>(toCanonicalJson(tricky));
  assert.ok(back._id instanceof ObjectId && back._id.equals(tricky._id));
  assert.ok(back.price instanceof Decimal128);
  assert.equal(back.price.toString(), '1234567890.123456789012345678901234');
  assert.ok(back.big instanceof Long && back.big.toString() === '9223372036854775807');
  assert.ok(back.int instanceof Int32, 'Int32 stays Int32');
  assert.ok(back.double instanceof Double, 'Double 42 stays a double, not an int');
  assert.equal((back.fraction as unknown as DoubleType).valueOf(), 0.1);
  assert.ok(back.at instanceof Date && back.at.getTime() === tricky.at.getTime());
  assert.ok(back.ts instanceof Timestamp && back.ts.t === 1764151872 && back.ts.i === 7);
  assert.ok(back.bin instanceof Binary);
  assert.deepEqual([...back.bin.buffer], [0, 1, 2, 255]);
  assert.equal((back.uuid as unknown as BinaryType).sub_type, Binary.SUBTYPE_UUID);
  assert.equal((back.uuid as unknown as BinaryType).toUUID().toHexString(), '0f8fad5b-d9cb-469f-a165-70867728950e');
  assert.ok(back.re instanceof BSONRegExp && back.re.pattern === '^ab.*c$' && back.re.options === 'im');
  assert.equal(back.items[1]!.nested![0]!.deep[0]!.v, null);
  assert.deepEqual(back.items[0]!.tags, [['x'], []]);
  assert.equal(back.explicitNull, null);
  assert.ok(!('missing' in back), 'missing stays missing, distinct from null');
  assert.ok('explicitNull' in back);
  assert.equal(back.unicode, tricky.unicode);
  assert.equal(back['dotted.name'].valueOf(), 1);
  assert.equal(back.$dollar, tricky.$dollar);
  // Canonical form is stable: a second trip gives the same bytes.
  assert.equal(toCanonicalJson(back), toCanonicalJson(tricky));
});

test('document_id is the canonical form of the key and distinguishes key types', () => {
  assert.equal(documentIdOf({ _id: new ObjectId('65a1b2c3d4e5f60718293a4b') }), '{"$oid":"65a1b2c3d4e5f60718293a4b"}');
  assert.notEqual(documentIdOf({ _id: new Int32(1) }), documentIdOf({ _id: '1' }));
  assert.notEqual(documentIdOf({ _id: new Int32(1) }), documentIdOf({ _id: Long.fromNumber(1) }));
});

test('event ids are deterministic and distinct', () => {
  assert.equal(eventIdFromResumeToken('8265A1'), eventIdFromResumeToken('8265A1'));
  assert.notEqual(eventIdFromResumeToken('8265A1'), eventIdFromResumeToken('8265A2'));
  assert.match(eventIdFromResumeToken('x'), /^[0-9a-f]{32}$/);
  const at = { t: 10, i: 1 };
  assert.notEqual(snapshotEventId('shop', 'orders', '1', at), snapshotEventId('shop', 'orders', '2', at));
  assert.notEqual(snapshotEventId('shop', 'orders', '1', at), snapshotEventId('shop', 'orders', '1', { t: 10, i: 2 }));
});

function sampleEvent(): ChangeEvent {
  return {
    schema_version: 1,
    event_id: eventIdFromResumeToken('826'),
    op: 'update',
    db: 'shop',
    coll: 'orders',
    document_id: documentIdOf({ _id: tricky._id }),
    document: toCanonicalJson(tricky),
    update_description: { updated_fields: toCanonicalJson({ status: 'paid' }), removed_fields: ['note'], truncated_arrays: [{ field: 'items', new_size: 1 }] },
    cluster_time: { t: 1764151872, i: 3 },
    wall_time: '2026-11-26T10:11:12.345Z',
    resume_token: '826',
    source: { instance: 'cdc-0', snapshot: false },
  };
}

test('envelope encodes and decodes', () => {
  const event = sampleEvent();
  assert.deepEqual(decodeChangeEvent(encodeChangeEvent(event)), event);
  assert.ok(ChangeEventSchema.safeParse({ ...event, op: 'truncate' }).success === false);
});

test('bad envelopes are classified for dead-lettering', () => {
  const reasonOf = (bytes: string) => {
    try {
      decodeChangeEvent(bytes);
      return 'accepted';
    } catch (error) {
      assert.ok(error instanceof EnvelopeError);
      return error.reason;
    }
  };
  assert.equal(reasonOf('{not json'), 'not_json');
  assert.equal(reasonOf(JSON.stringify({ ...sampleEvent(), schema_version: 99 })), 'unknown_schema_version');
  assert.equal(reasonOf(JSON.stringify({ ...sampleEvent(), event_id: 'short' })), 'invalid_envelope');
  assert.equal(reasonOf(JSON.stringify({ ...sampleEvent(), cluster_time: { t: -1, i: 0 } })), 'invalid_envelope');
  assert.equal(reasonOf('null'), 'unknown_schema_version');
  // Bytes that are not UTF-8 inside a string value: refused, not silently turned into U+FFFD.
  const text = JSON.stringify({ ...sampleEvent(), document: '{"name":"caf@"}' });
  const at = text.indexOf('@');
  const invalid = Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from([0xc3, 0x28]), Buffer.from(text.slice(at + 1))]);
  assert.throws(() => decodeChangeEvent(invalid), (error: unknown) => error instanceof EnvelopeError && error.reason === 'not_json' && /UTF-8/.test(error.message));
  assert.deepEqual(decodeChangeEvent(Buffer.from(JSON.stringify({ ...sampleEvent(), document: '{"name":"café ✓ 𝄞"}' }))).document, '{"name":"café ✓ 𝄞"}');
});
