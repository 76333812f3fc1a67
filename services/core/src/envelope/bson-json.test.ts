import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'bson';
import { BSON } from './bson.js';
import { RAW_DECODE_OPTIONS, RawBsonDocument, toCanonicalJson } from './bson-json.js';

const { Binary, BSONRegExp, Code, Decimal128, Double, EJSON, Int32, Long, MaxKey, MinKey, ObjectId, Timestamp, UUID } = BSON;

/** bson's output, or the error it raises: the writer must agree on both. */
function reference(value: unknown): string {
  try {
    return EJSON.stringify(value as Document, { relaxed: false });
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

function written(value: unknown): string {
  try {
    return toCanonicalJson(value);
  } catch (error) {
    return `throws ${(error as Error).name}`;
  }
}

/** Every kind of value the driver can hand us, with the edges of each number rule. */
function atoms(): unknown[] {
  const protoKey = JSON.parse('{"__proto__": 1, "b": 2}') as unknown;
  return [
    '', 'plain', 'quote " backslash \\ newline \n tab \t', '\u0000\u001f control', 'Zürich – 東京 – 🚚', '\ud800 lone surrogate',
    0, 1, -1, 42, -0, 0.1, 1.5e-300, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -(2 ** 31) - 1, 2 ** 53, 2 ** 63, -(2 ** 63), 2 ** 64, 1e21,
    Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE,
    true, false, null, undefined,
    new Int32(0), new Int32(-7), new Int32(2147483647),
    new Double(42), new Double(-0), new Double(0.1), new Double(1e21), new Double(Number.NaN), new Double(Number.NEGATIVE_INFINITY), new Double(2 ** 53),
    Long.fromString('9223372036854775807'), Long.fromString('-9223372036854775808'), Long.fromNumber(0),
    Decimal128.fromString('1234567890.123456789012345678901234'), Decimal128.fromString('-0.00'),
    new Date('2026-11-26T10:11:12.345Z'), new Date(-1), new Date(253402300800000), new Date(Number.NaN),
    new ObjectId('65a1b2c3d4e5f60718293a4b'),
    new Timestamp({ t: 1764151872, i: 7 }),
    new Binary(Buffer.from([0, 1, 2, 255]), 0), new UUID('0f8fad5b-d9cb-469f-a165-70867728950e'),
    new BSONRegExp('^ab.*c$', 'im'), /x+y/im,
    new MinKey(), new MaxKey(), new Code('function () {}'),
    10n, -(2n ** 70n),
    new Map([['k', 1]]),
    {}, [], [[]], { a: { b: { c: [] } } },
    protoKey,
    { _bsontype: 'not really', v: 1 },
    { fn: () => 1, kept: 1 },
    [() => 1, 2],
    { 'dotted.name': 1, $dollar: 2, '': 3, '"quoted"': 4 },
  ];
}

test('the canonical writer gives bson EJSON output byte for byte, for every kind of value and position', () => {
  const all = atoms();
  for (const atom of all) {
    for (const shape of [atom, { v: atom }, [atom], { list: [1, atom, { deeper: atom }] }, [[atom], { x: [atom] }]]) {
      assert.equal(written(shape), reference(shape), `value ${reference({ v: shape }).slice(0, 120)}`);
    }
  }
  const everything = Object.fromEntries(all.map((atom, i) => [`f${i}`, atom]));
  assert.equal(written(everything), reference(everything));
  assert.equal(written(all), reference(all));
});

test('deep nesting and repeated field names do not change the output', () => {
  let deep: unknown = { leaf: new Int32(1) };
  for (let depth = 0; depth < 150; depth++) deep = depth % 2 ? { n: deep } : [deep];
  assert.equal(toCanonicalJson(deep), reference(deep));
  const many = Array.from({ length: 200 }, (_, i) => ({ [`name${i % 7}`]: i, shared: new Double(i + 0.5) }));
  assert.equal(toCanonicalJson(many), reference(many));
  assert.equal(toCanonicalJson(many), toCanonicalJson(many), 'the name cache gives the same bytes on a second pass');
});

test('circular values are refused as bson refuses them', () => {
  const loop: Record<string, unknown> = { a: 1 };
  loop.self = loop;
  assert.throws(() => toCanonicalJson(loop), /circular/i);
});

/** A document's BSON bytes written straight, against bson's output of the same bytes decoded as the cdc decodes them. */
function rawAgainstDecoded(bytes: Buffer): void {
  const decoded = BSON.deserialize(bytes, RAW_DECODE_OPTIONS);
  assert.equal(written(new RawBsonDocument(bytes)), reference(decoded), `document ${reference(decoded).slice(0, 120)}`);
}

test('a document written from its BSON bytes gives bson EJSON output of the decoded document, byte for byte', () => {
  const bsonOf = (value: object): Buffer | null => {
    try {
      return Buffer.from(BSON.serialize(value));
    } catch {
      return null; // not a value BSON can hold (the driver never hands such bytes over)
    }
  };
  const held = atoms().filter((atom) => bsonOf({ v: atom }) !== null);
  assert.ok(held.length >= 60, `${held.length} kinds of value`);
  for (const atom of held) {
    for (const shape of [{ v: atom }, { list: [1, atom, { deeper: atom }] }, { nested: [[atom], { x: [atom] }] }]) rawAgainstDecoded(bsonOf(shape)!);
  }
  rawAgainstDecoded(bsonOf(Object.fromEntries(held.map((atom, i) => [`f${i}`, atom])))!);
  rawAgainstDecoded(bsonOf({ '"quoted"': 1, 'back\\slash': { 'tab\t': 2 }, Zürich: [{ 東京: 'x' }], 'dotted.name': 3, '': 4, a$: 5 })!);
});

test("Decimal128 from raw bytes: bson's text for every exponent form, sign and size", () => {
  const texts = ['0', '-0', '0.00', '-0.00', '1', '-1', '10.50', '0.001', '0.000001', '0.0000001', '123456789012345678', '9007199254740991',
    '9007199254740992', '1E+3', '1.5E+10', '-2.5E-8', '1234567890.123456789012345678901234', '9.999999999999999999999999999999999E+6144',
    '1E-6176', '0E-6176', '0E+6111', 'NaN', 'Infinity', '-Infinity', '12345E-12', '12345E-2', '0.1234567', '1000000000000000E+18'];
  const seeded = (n: number) => Decimal128.fromString(`${n % 3 ? '-' : ''}${Math.floor(Math.abs(Math.sin(n)) * 1e9 ** ((n % 2) + 1))}E${(n % 40) - 30}`);
  const values = [...texts.map((t) => Decimal128.fromString(t)), ...Array.from({ length: 400 }, (_, n) => seeded(n))];
  rawAgainstDecoded(Buffer.from(BSON.serialize({ d: values })));
});

test('bytes whose decoded object would differ from their order are decoded first: index-like, repeated and $-names', () => {
  // JS puts index-like names first; a repeated name keeps its first place and its last value; $ref/$id become a DBRef
  rawAgainstDecoded(Buffer.from(BSON.serialize(new Map<string, unknown>([['b', 1], ['1', new Int32(2)], ['a', 'x']]))));
  const repeated = Buffer.from(BSON.serialize(new Map<string, unknown>([['aa', 1], ['ab', 'second'], ['c', 3]])));
  repeated.write('aa', repeated.indexOf('ab'), 'latin1');
  rawAgainstDecoded(repeated);
  rawAgainstDecoded(Buffer.from(BSON.serialize({ ref: new Map<string, unknown>([['$ref', 'orders'], ['$id', new ObjectId('65a1b2c3d4e5f60718293a4b')]]) })));
  rawAgainstDecoded(Buffer.from(BSON.serialize({ deep: JSON.parse('{"x":'.repeat(120) + '1' + '}'.repeat(120)) as unknown })));
});

test('invalid UTF-8 in raw bytes fails as decoding it fails', () => {
  const bytes = Buffer.from(BSON.serialize({ s: 'abc' }));
  bytes[bytes.indexOf('abc')] = 0xff;
  assert.throws(() => BSON.deserialize(bytes, RAW_DECODE_OPTIONS));
  assert.throws(() => toCanonicalJson(new RawBsonDocument(bytes)));
});
