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

function doubleJson(value: number): string {
  if (Object.is(Math.sign(value), -0)) return '{"$numberDouble":"-0.0"}';
  return `{"$numberDouble":"${Number.isInteger(value) ? value.toFixed(1) : String(value)}"}`;
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
      return doubleJson(typed.value!);
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
 * BSON values travel as canonical Extended JSON strings so that Decimal128, Long, Int32 vs Double, Date,
 * ObjectId and Binary keep their exact type all the way to BigQuery (plain JSON would turn them into lossy numbers).
 * Output is byte-for-byte bson's `EJSON.stringify(value, { relaxed: false })`; the common types are written
 * directly (about 3× faster, it is the CDC's hottest step), anything unusual is handed to bson whole.
 */
export function toCanonicalJson(value: unknown): string {
  try {
    return valueJson(value);
  } catch (error) {
    if (error !== UNCOVERED && !(error instanceof RangeError)) throw error;
    return EJSON.stringify(value as Document, { relaxed: false });
  }
}

export function fromCanonicalJson<T = Document>(json: string): T {
  return EJSON.parse(json, { relaxed: false }) as T;
}

/** Canonical string of a document key (`_id` value): stable across processes, used as Kafka key and document_id. */
export function documentIdOf(documentKey: Document): string {
  return toCanonicalJson(documentKey._id);
}
