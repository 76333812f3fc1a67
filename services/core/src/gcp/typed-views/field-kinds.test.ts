import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON } from '../../envelope/bson.js';
import { toCanonicalJson } from '../../envelope/bson-json.js';
import { collectFieldKinds, decimalDigits, isAddressableKey, kindOf, pairKey, parsePairKey, type FieldKind } from './field-kinds.js';

const { Decimal128, Double, Int32, Long, ObjectId, Binary, Timestamp, BSONRegExp } = BSON;

/** The kind of a BSON value as the pipeline writes it (canonical Extended JSON, parsed). */
const kindOfBson = (value: unknown) => kindOf((JSON.parse(toCanonicalJson({ v: value })) as { v: unknown }).v);

test('kinds of BSON values written as canonical Extended JSON', () => {
  const cases: [string, unknown, FieldKind][] = [
    ['null', null, 'null'],
    ['boolean', true, 'bool'],
    ['string', 'héllo', 'string'],
    ['Int32', new Int32(7), 'int32'],
    ['JS integer within int32', 7, 'int32'],
    ['Long', Long.fromString('9223372036854775807'), 'int64'],
    ['Double', new Double(1), 'double'],
    ['NaN double', Number.NaN, 'double'],
    ['Decimal128 money', Decimal128.fromString('12.50'), 'numeric'],
    ['Decimal128 -0', Decimal128.fromString('-0'), 'numeric'],
    ['Decimal128 25 integer and 9 fraction digits', Decimal128.fromString('9999999999999999999999999.999999999'), 'numeric'],
    ['Decimal128 10 fraction digits', Decimal128.fromString('0.0123456789'), 'bignumeric'],
    ['Decimal128 34 digits', Decimal128.fromString('1234567890123456789012345678901234'), 'bignumeric'],
    ['Decimal128 trailing zeros do not count', Decimal128.fromString('1.0000000000000'), 'numeric'],
    ['Decimal128 exponent', Decimal128.fromString('1.5E+3'), 'numeric'],
    ['Decimal128 max', Decimal128.fromString('9.999999999999999999999999999999999E+6144'), 'decimalOutOfRange'],
    ['Decimal128 tiny', Decimal128.fromString('1E-6176'), 'decimalOutOfRange'],
    ['Decimal128 NaN', Decimal128.fromString('NaN'), 'decimalOutOfRange'],
    ['Decimal128 Infinity', Decimal128.fromString('-Infinity'), 'decimalOutOfRange'],
    ['date before 1970', new Date('1969-07-20T20:17:40Z'), 'date'],
    ['date in year 9999', new Date('9999-12-31T23:59:59.999Z'), 'date'],
    ['date in year 10000', new Date('+010000-01-01T00:00:00Z'), 'dateOutOfRange'],
    ['date before year 1', new Date('-000001-01-01T00:00:00Z'), 'dateOutOfRange'],
    ['ObjectId', new ObjectId('64b7f0c2a1b2c3d4e5f60718'), 'objectId'],
    ['document', { a: 1 }, 'document'],
    ['empty document', {}, 'document'],
    ['DBRef-like document', { $ref: 'c', $id: 1 }, 'document'],
    ['array', [1, 2], 'array'],
    ['binary', new Binary(Buffer.from([1, 2])), 'other'],
    ['timestamp', new Timestamp({ t: 1, i: 2 }), 'other'],
    ['regex', new BSONRegExp('a+', 'i'), 'other'],
  ];
  for (const [what, value, kind] of cases) assert.equal(kindOfBson(value), kind, what);
});

test('decimal digits: integer and fraction digits after dropping zeros that do not count', () => {
  assert.deepEqual(decimalDigits('12.50'), { integer: 2, fraction: 1 });
  assert.deepEqual(decimalDigits('-0.00'), { integer: 0, fraction: 0 });
  assert.deepEqual(decimalDigits('1.23E-7'), { integer: 0, fraction: 9 });
  assert.deepEqual(decimalDigits('1E+30'), { integer: 31, fraction: 0 });
  assert.equal(decimalDigits('NaN'), null);
  assert.equal(decimalDigits('Infinity'), null);
});

test('field kinds of a document: nested documents, arrays of documents, unicode and dotted keys, null', () => {
  const doc = JSON.parse(
    toCanonicalJson({
      _id: new ObjectId('64b7f0c2a1b2c3d4e5f60718'),
      total: Decimal128.fromString('10.5'),
      'a.b': 1,
      prénom: 'Zoë',
      note: null,
      address: { city: 'Basel', zip: new Int32(4051) },
      items: [{ sku: 'x', qty: 1 }, { sku: 'y', qty: 2.5 }],
      tags: ['a', null],
      'bad"key': 1,
    }),
  ) as Record<string, unknown>;
  const into = new Set<string>();
  collectFieldKinds(doc, into);
  assert.deepEqual([...into].map(parsePairKey), [
    { path: ['_id'], kind: 'objectId' },
    { path: ['total'], kind: 'numeric' },
    { path: ['a.b'], kind: 'int32' },
    { path: ['prénom'], kind: 'string' },
    { path: ['note'], kind: 'null' },
    { path: ['address'], kind: 'document' },
    { path: ['address', 'city'], kind: 'string' },
    { path: ['address', 'zip'], kind: 'int32' },
    { path: ['items'], kind: 'array' },
    { path: ['items', null], kind: 'document' },
    { path: ['items', null, 'sku'], kind: 'string' },
    { path: ['items', null, 'qty'], kind: 'int32' },
    { path: ['items', null, 'qty'], kind: 'double' },
    { path: ['tags'], kind: 'array' },
    { path: ['tags', null], kind: 'string' },
    { path: ['tags', null], kind: 'null' },
  ]);
});

test('field records survive their string form; a malformed one is refused', () => {
  const key = pairKey(['a b', null, 'c'], 'int64');
  assert.deepEqual(parsePairKey(key), { path: ['a b', null, 'c'], kind: 'int64' });
  assert.throws(() => parsePairKey('float ["a"]'), /not a field record/);
  assert.throws(() => parsePairKey('int32 [1]'), /not a field record/);
});

test('keys a BigQuery JSONPath cannot address are left to the raw document', () => {
  assert.ok(isAddressableKey('a.b'));
  assert.ok(isAddressableKey('ü €'));
  assert.ok(!isAddressableKey(''));
  assert.ok(!isAddressableKey('a"b'));
  assert.ok(!isAddressableKey('a\\b'));
  assert.ok(!isAddressableKey('a\nb'));
});
