import type { Document } from 'bson';
import { BSON } from './bson.js';

const { EJSON } = BSON;

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2 ** 63);
const INT64_MAX = 2 ** 63;

/** Thrown inside the fast writer for a value it does not cover; the whole value then goes through EJSON. */
const UNCOVERED = Symbol('uncovered');

// Field names repeat across documents: quoting each once saves a JSON.stringify per field. Bounded, so a stream
// of ever-new names (e.g. map-like documents) cannot grow it without limit.
const quotedNames = new Map<string, string>();
const QUOTED_NAMES_MAX = 50_000;

function quoteName(name: string): string {
  let quoted = quotedNames.get(name);
  if (quoted === undefined) {
    quoted = JSON.stringify(name);
    if (quotedNames.size >= QUOTED_NAMES_MAX) quotedNames.clear();
    quotedNames.set(name, quoted);
  }
  return quoted;
}

// The number rules are bson's (EJSON canonical mode), repeated here so the common types need no intermediate objects.
function numberJson(value: number): string {
  if (Number.isInteger(value) && !Object.is(value, -0)) {
    if (value >= INT32_MIN && value <= INT32_MAX) return `{"$numberInt":"${value}"}`;
    if (value >= INT64_MIN && value <= INT64_MAX) return `{"$numberLong":"${value}"}`;
  }
  return `{"$numberDouble":"${Object.is(value, -0) ? '-0.0' : String(value)}"}`;
}

/** bson's canonical text of a double */
function doubleText(value: number): string {
  if (Object.is(Math.sign(value), -0)) return '-0.0';
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

function objectJson(value: object): string {
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += valueJson(value[i]);
    }
    return out + ']';
  }
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto === Object.prototype || proto === null) {
    if ('_bsontype' in value) throw UNCOVERED;
    let out = '{';
    let first = true;
    for (const name of Object.keys(value)) {
      const field = (value as Record<string, unknown>)[name];
      if (typeof field === 'function' || typeof field === 'symbol') throw UNCOVERED;
      out += (first ? '' : ',') + quoteName(name) + ':' + valueJson(field);
      first = false;
    }
    return out + '}';
  }
  if (value instanceof Date) return `{"$date":{"$numberLong":"${value.getTime()}"}}`;
  const typed = value as { _bsontype?: string; value?: number; toHexString?: () => string; toString: () => string };
  switch (typed._bsontype) {
    case 'ObjectId':
      return `{"$oid":"${typed.toHexString!()}"}`;
    case 'Int32':
      return `{"$numberInt":"${typed.value}"}`;
    case 'Double':
      return `{"$numberDouble":"${doubleText(typed.value!)}"}`;
    case 'Long':
      return `{"$numberLong":"${typed.toString()}"}`;
    case 'Decimal128':
      return `{"$numberDecimal":"${typed.toString()}"}`;
    default:
      // Timestamp, Binary, regex, … are rarer: bson writes them.
      return EJSON.stringify(value as Document, { relaxed: false });
  }
}

function valueJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return numberJson(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      return value === null ? 'null' : objectJson(value);
    case 'undefined':
      return 'null';
    default:
      throw UNCOVERED;
  }
}

/**
 * A document kept as its BSON bytes (a change event's full document, read raw from the driver): written to
 * canonical Extended JSON straight from the bytes, with no JS objects built in between.
 */
export class RawBsonDocument {
  constructor(readonly bytes: Buffer) {}

  /** The document as the driver decodes it for the cdc (promoteValues: false, UTF-8 checked). */
  decode(): Document {
    return BSON.deserialize(this.bytes, RAW_DECODE_OPTIONS);
  }
}

/** How the cdc's change stream decodes BSON (ChangeSource): numbers keep their BSON types. */
export const RAW_DECODE_OPTIONS = { promoteValues: false, validation: { utf8: true } } as const;

const BSON_DOUBLE = 0x01;
const BSON_STRING = 0x02;
const BSON_DOCUMENT = 0x03;
const BSON_ARRAY = 0x04;
const BSON_OBJECT_ID = 0x07;
const BSON_BOOLEAN = 0x08;
const BSON_DATE = 0x09;
const BSON_NULL = 0x0a;
const BSON_INT32 = 0x10;
const BSON_TIMESTAMP = 0x11;
const BSON_INT64 = 0x12;
const BSON_DECIMAL128 = 0x13;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Buffer's own UTF-8 reader, without toString's dispatch on the encoding name (it runs for every name and string). */
const utf8Slice = (Buffer.prototype as unknown as { utf8Slice(this: Buffer, start: number, end: number): string }).utf8Slice;

/**
 * Text of bytes [start, end), decoded natively; invalid UTF-8 (which the native reader turns into U+FFFD) throws as
 * bson's check does, so only a text holding U+FFFD is decoded a second time, strictly.
 */
function textAt(bytes: Buffer, start: number, end: number): string {
  const text = utf8Slice.call(bytes, start, end);
  return text.includes('\ufffd') ? strictUtf8.decode(bytes.subarray(start, end)) : text;
}

/** What JSON.stringify would escape in a name (a surrogate, even paired, is left to it). */
const ESCAPED_IN_JSON = /["\\\u0000-\u001f\ud800-\udfff]/;

/** The quoted JSON form of a field name: nearly all need no JSON.stringify. */
function quotedName(name: string): string {
  return ESCAPED_IN_JSON.test(name) ? quoteName(name) : `"${name}"`;
}

/**
 * bson's Decimal128 text of the 16 bytes at `at`. A significand below 2^53 (prices, amounts: nearly all values) is
 * formatted here by bson's rules, without its 128-bit division; anything else by bson.
 */
function decimal128Text(bytes: Buffer, at: number): string {
  const high = bytes.readInt32LE(at + 12);
  const midHigh = bytes.readUInt32LE(at + 8);
  const midLow = bytes.readUInt32LE(at + 4);
  // the combination field's two top bits set: NaN, Infinity or the large-significand form
  if ((high & 0x60000000) === 0x60000000 || (high & 0x1ffff) !== 0 || midHigh !== 0 || midLow >= 0x200000) {
    return new BSON.Decimal128(bytes.subarray(at, at + 16)).toString();
  }
  const sign = high < 0 ? '-' : '';
  const exponent = ((high >> 17) & 0x3fff) - 6176;
  const digits = String(midLow * 0x100000000 + bytes.readUInt32LE(at));
  const scientific = digits.length - 1 + exponent;
  if (scientific >= 34 || scientific <= -7 || exponent > 0) {
    return `${sign}${digits[0]}${digits.length > 1 ? `.${digits.slice(1)}` : ''}E${scientific > 0 ? '+' : ''}${scientific}`;
  }
  if (exponent === 0) return sign + digits;
  const point = digits.length + exponent;
  return point > 0 ? `${sign}${digits.slice(0, point)}.${digits.slice(point)}` : `${sign}0.${'0'.repeat(-point)}${digits}`;
}

/**
 * How the writer from bytes spells its text: as canonical JSON, or as that JSON already quoted as a JSON string
 * (what JSON.stringify would make of it as an envelope field: every `"` and `\\` escaped once more), so an
 * envelope embeds a document without escaping its text a second time. The fixed pieces are written in JSON once
 * and derived for the quoted form.
 */
interface JsonForm {
  /** a name's quoted form, with its colon */
  name(name: FieldName): string;
  /** a string value's quoted form */
  string(text: string): string;
  /** the type wrappers' opening text, up to the value; `close` after it */
  oid: string;
  int: string;
  long: string;
  double: string;
  decimal: string;
  date: string;
  dateClose: string;
  timestampT: string;
  timestampI: string;
  timestampClose: string;
  close: string;
}

const JSON_PIECES = {
  oid: '{"$oid":"',
  int: '{"$numberInt":"',
  long: '{"$numberLong":"',
  double: '{"$numberDouble":"',
  decimal: '{"$numberDecimal":"',
  date: '{"$date":{"$numberLong":"',
  dateClose: '"}}',
  timestampT: '{"$timestamp":{"t":',
  timestampI: ',"i":',
  timestampClose: '}}',
  close: '"}',
};

const PLAIN: JsonForm = { ...JSON_PIECES, name: (name) => name.plain, string: (text) => JSON.stringify(text) };

/** JSON.stringify(JSON.stringify(text)) without its outer quotes; text needing no escape is only wrapped. */
function quoteTwice(text: string): string {
  return ESCAPED_IN_JSON.test(text) ? JSON.stringify(JSON.stringify(text)).slice(1, -1) : `\\"${text}\\"`;
}

const QUOTED: JsonForm = {
  ...(Object.fromEntries(Object.entries(JSON_PIECES).map(([piece, text]) => [piece, text.replaceAll('"', '\\"')])) as typeof JSON_PIECES),
  name: (name) => name.quoted,
  string: quoteTwice,
};

/** A field name read from its bytes, with its written forms. */
interface FieldName {
  name: string;
  plain: string;
  quoted: string;
  /** a name JS orders first (like "1") or a `$`-name bson may read as a DBRef: the document is decoded instead */
  uncovered: boolean;
}

// Names repeat across documents: each is decoded, checked and quoted once, found again by its bytes (as latin1 text:
// one character per byte, no UTF-8 decoding). Bounded like quotedNames.
const namesByBytes = new Map<string, FieldName>();
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Buffer, start: number, end: number): string }).latin1Slice;

function fieldNameAt(bytes: Buffer, start: number, end: number): FieldName {
  const key = latin1Slice.call(bytes, start, end);
  let field = namesByBytes.get(key);
  if (field === undefined) {
    const name = textAt(bytes, start, end);
    const first = name.charCodeAt(0);
    field = { name, plain: quotedName(name) + ':', quoted: quoteTwice(name) + ':', uncovered: (first >= 0x30 && first <= 0x39) || first === 0x24 };
    if (namesByBytes.size >= QUOTED_NAMES_MAX) namesByBytes.clear();
    namesByBytes.set(key, field);
  }
  return field;
}

/**
 * Canonical Extended JSON of the document (or array) at `start`, read from its bytes. Whatever would make the
 * decoded object differ from the bytes' order and content (a name JS orders first, like "1"; a repeated name; a
 * `$`-name bson may turn into a DBRef) or a type not written here throws UNCOVERED: the document is then decoded.
 */
function rawDocumentJson(bytes: Buffer, start: number, isArray: boolean, form: JsonForm): string {
  const end = start + bytes.readInt32LE(start) - 1;
  if (bytes[end] !== 0) throw UNCOVERED;
  let out = isArray ? '[' : '{';
  const names: string[] | null = isArray ? null : [];
  let i = start + 4;
  while (i < end) {
    const type = bytes[i++]!;
    const nameEnd = bytes.indexOf(0, i);
    if (nameEnd < 0 || nameEnd >= end) throw UNCOVERED;
    if (names === null) {
      if (i > start + 5) out += ',';
    } else {
      const field = fieldNameAt(bytes, i, nameEnd);
      if (field.uncovered || names.includes(field.name)) throw UNCOVERED;
      out += (names.length > 0 ? ',' : '') + form.name(field);
      names.push(field.name);
    }
    i = nameEnd + 1;
    switch (type) {
      case BSON_DOUBLE:
        out += form.double + doubleText(bytes.readDoubleLE(i)) + form.close;
        i += 8;
        break;
      case BSON_STRING: {
        const length = bytes.readInt32LE(i);
        if (length < 1 || bytes[i + 3 + length] !== 0) throw UNCOVERED;
        out += form.string(textAt(bytes, i + 4, i + 3 + length));
        i += 4 + length;
        break;
      }
      case BSON_DOCUMENT:
      case BSON_ARRAY:
        out += rawDocumentJson(bytes, i, type === BSON_ARRAY, form);
        i += bytes.readInt32LE(i);
        break;
      case BSON_OBJECT_ID:
        out += form.oid + bytes.toString('hex', i, i + 12) + form.close;
        i += 12;
        break;
      case BSON_BOOLEAN:
        if (bytes[i]! > 1) throw UNCOVERED;
        out += bytes[i] === 1 ? 'true' : 'false';
        i += 1;
        break;
      case BSON_DATE:
        // as bson decodes it: a Date of the 64-bit milliseconds (NaN beyond the Date range)
        out += form.date + new Date(Number(bytes.readBigInt64LE(i))).getTime() + form.dateClose;
        i += 8;
        break;
      case BSON_NULL:
        out += 'null';
        break;
      case BSON_INT32:
        out += form.int + bytes.readInt32LE(i) + form.close;
        i += 4;
        break;
      case BSON_TIMESTAMP:
        out += form.timestampT + bytes.readUInt32LE(i + 4) + form.timestampI + bytes.readUInt32LE(i) + form.timestampClose;
        i += 8;
        break;
      case BSON_INT64:
        out += form.long + bytes.readBigInt64LE(i) + form.close;
        i += 8;
        break;
      case BSON_DECIMAL128:
        out += form.decimal + decimal128Text(bytes, i) + form.close;
        i += 16;
        break;
      default:
        // binary, regex, code, min/max key, …: rare, bson writes them
        throw UNCOVERED;
    }
  }
  if (i !== end) throw UNCOVERED;
  return out + (isArray ? ']' : '}');
}

/**
 * BSON values travel as canonical Extended JSON strings so that Decimal128, Long, Int32 vs Double, Date,
 * ObjectId and Binary keep their exact type all the way to BigQuery (plain JSON would turn them into lossy numbers).
 * Output is byte-for-byte bson's `EJSON.stringify(value, { relaxed: false })` (of the decoded document, for a RawBsonDocument); the common types are written
 * directly (about 3× faster, it is the CDC's hottest step), anything unusual is handed to bson whole.
 */
export function toCanonicalJson(value: unknown): string {
  if (value instanceof RawBsonDocument) {
    try {
      return rawDocumentJson(value.bytes, 0, false, PLAIN);
    } catch (error) {
      if (error !== UNCOVERED && !(error instanceof RangeError) && !(error instanceof TypeError)) throw error;
      return toCanonicalJson(value.decode());
    }
  }
  try {
    return valueJson(value);
  } catch (error) {
    if (error !== UNCOVERED && !(error instanceof RangeError)) throw error;
    return EJSON.stringify(value as Document, { relaxed: false });
  }
}

/**
 * `JSON.stringify(toCanonicalJson(value))`: the canonical JSON as a JSON string, for an envelope field. A
 * RawBsonDocument's is written from its bytes in that form directly, its text escaped once instead of twice.
 */
export function toQuotedCanonicalJson(value: unknown): string {
  if (value instanceof RawBsonDocument) {
    try {
      return '"' + rawDocumentJson(value.bytes, 0, false, QUOTED) + '"';
    } catch (error) {
      if (error !== UNCOVERED && !(error instanceof RangeError) && !(error instanceof TypeError)) throw error;
      return JSON.stringify(toCanonicalJson(value.decode()));
    }
  }
  return JSON.stringify(toCanonicalJson(value));
}

export function fromCanonicalJson<T = Document>(json: string): T {
  return EJSON.parse(json, { relaxed: false }) as T;
}

/** Canonical string of a document key (`_id` value): stable across processes, used as Kafka key and document_id. */
export function documentIdOf(documentKey: Document): string {
  return toCanonicalJson(documentKey._id);
}
