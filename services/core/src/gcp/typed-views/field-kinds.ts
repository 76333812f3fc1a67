// Which BSON type every field of a document has, read from canonical Extended JSON (the form the warehouse keeps).
// The loader records these (field, kind) pairs for each collection; the typed views are generated from them.

/**
 * The BSON type of a value, refined where the warehouse type depends on the value: a Decimal128 that fits NUMERIC
 * (29 integer and 9 fractional digits) or only BIGNUMERIC (38 and 38), or neither (NaN, Infinity, huge, tiny); a date
 * inside TIMESTAMP's range (years 1 to 9999) or outside it.
 */
export type FieldKind =
  | 'null'
  | 'bool'
  | 'string'
  | 'int32'
  | 'int64'
  | 'double'
  | 'numeric'
  | 'bignumeric'
  | 'decimalOutOfRange'
  | 'date'
  | 'dateOutOfRange'
  | 'objectId'
  | 'document'
  | 'array'
  | 'other';

export const FIELD_KINDS: readonly FieldKind[] = ['null', 'bool', 'string', 'int32', 'int64', 'double', 'numeric', 'bignumeric', 'decimalOutOfRange', 'date', 'dateOutOfRange', 'objectId', 'document', 'array', 'other'];

/** A field's place in a document: keys, with null for "an element of the array". */
export type FieldPath = readonly (string | null)[];

// Canonical Extended JSON wrappers of the other BSON types (binary, regex, timestamp, code, …): kept as JSON.
const OTHER_WRAPPERS = new Set(['$binary', '$code', '$timestamp', '$regularExpression', '$dbPointer', '$symbol', '$minKey', '$maxKey', '$undefined']);

/** TIMESTAMP's range in BigQuery: 0001-01-01 00:00:00 to 9999-12-31 23:59:59.999999 (UTC). */
export const TIMESTAMP_MIN_MS = -62135596800000;
export const TIMESTAMP_MAX_MS = 253402300799999;

/** Deeper fields are kept whole as JSON (BigQuery nests STRUCTs at most 15 levels). */
export const MAX_FIELD_DEPTH = 12;

/**
 * Keys a JSONPath can address in BigQuery (`$."key"`): not empty, no double quote, backslash or control character.
 * Other keys stay in the raw document only.
 */
export const isAddressableKey = (key: string): boolean => key.length > 0 && !/["\\\u0000-\u001f]/.test(key);

/** Digits before and after the point of a Decimal128 string (`-1.20E+3`), or null for NaN and the infinities. */
export function decimalDigits(text: string): { integer: number; fraction: number } | null {
  const match = /^[+-]?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return null;
  const [, whole = '', part = '', exponentText = '0'] = match;
  // value = coefficient × 10^exponent, without the zeros that do not count
  let coefficient = (whole + part).replace(/^0+/, '');
  let exponent = Number(exponentText) - part.length;
  const trailing = /0*$/.exec(coefficient)![0].length;
  coefficient = coefficient.slice(0, coefficient.length - trailing);
  exponent += trailing;
  if (coefficient === '') return { integer: 0, fraction: 0 };
  return { integer: Math.max(0, coefficient.length + exponent), fraction: Math.max(0, -exponent) };
}

export function decimalKind(text: string): 'numeric' | 'bignumeric' | 'decimalOutOfRange' {
  const digits = decimalDigits(text);
  if (!digits) return 'decimalOutOfRange';
  if (digits.integer <= 29 && digits.fraction <= 9) return 'numeric';
  if (digits.integer <= 38 && digits.fraction <= 38) return 'bignumeric';
  return 'decimalOutOfRange';
}

/** The kind of one canonical Extended JSON value (already parsed with JSON.parse). */
export function kindOf(value: unknown): FieldKind {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'string') return 'string';
  // Canonical Extended JSON has no bare numbers; one here is not BSON we know.
  if (typeof value !== 'object') return 'other';
  if (Array.isArray(value)) return 'array';
  const keys = Object.keys(value);
  const first = keys[0];
  if (first === undefined || !first.startsWith('$')) return 'document';
  const wrapped = (value as Record<string, unknown>)[first];
  if (keys.length === 1) {
    switch (first) {
      case '$numberInt':
        return 'int32';
      case '$numberLong':
        return 'int64';
      case '$numberDouble':
        return 'double';
      case '$numberDecimal':
        return typeof wrapped === 'string' ? decimalKind(wrapped) : 'other';
      case '$oid':
        return 'objectId';
      case '$date': {
        const ms = Number((wrapped as { $numberLong?: unknown } | null)?.$numberLong);
        if (typeof (wrapped as { $numberLong?: unknown } | null)?.$numberLong !== 'string' || !Number.isSafeInteger(ms)) return 'other';
        return ms >= TIMESTAMP_MIN_MS && ms <= TIMESTAMP_MAX_MS ? 'date' : 'dateOutOfRange';
      }
    }
  }
  if (OTHER_WRAPPERS.has(first)) return 'other';
  // Not a wrapper ($ref/$id of a DBRef, or a key that merely starts with $): an embedded document.
  return 'document';
}

/** One (path, kind) pair as a string: the kind (never has a space), a space, the path as JSON. */
export const pairKey = (path: FieldPath, kind: FieldKind): string => `${kind} ${JSON.stringify(path)}`;

export function parsePairKey(key: string): { path: (string | null)[]; kind: FieldKind } {
  const space = key.indexOf(' ');
  const kind = key.slice(0, space) as FieldKind;
  const path = JSON.parse(key.slice(space + 1)) as unknown;
  if (!FIELD_KINDS.includes(kind) || !Array.isArray(path) || !path.every((p) => p === null || typeof p === 'string')) throw new Error(`not a field record: ${key}`);
  return { path: path as (string | null)[], kind };
}

/**
 * Adds the (path, kind) pairs of one document to `into` (as pairKey strings, in the order first met). The top
 * level itself is not recorded; documents and arrays are recorded and descended into up to MAX_FIELD_DEPTH.
 */
export function collectFieldKinds(document: Record<string, unknown>, into: Set<string>): void {
  // Runs on every loaded document: the path is carried as the inside of its JSON array (`"items",null,"sku"`),
  // the same text pairKey makes, without building arrays per value.
  const visit = (value: unknown, inner: string, depth: number) => {
    const kind = kindOf(value);
    into.add(`${kind} [${inner}]`);
    if (depth >= MAX_FIELD_DEPTH) return;
    if (kind === 'document') {
      for (const key in value as Record<string, unknown>) if (isAddressableKey(key)) visit((value as Record<string, unknown>)[key], `${inner},${quoted(key)}`, depth + 1);
    } else if (kind === 'array') {
      for (const element of value as unknown[]) visit(element, `${inner},null`, depth + 1);
    }
  };
  for (const key in document) if (isAddressableKey(key)) visit(document[key], quoted(key), 1);
}

// Field names repeat across documents: each is quoted once (bounded, for map-like documents with ever-new keys).
const quotedKeys = new Map<string, string>();
function quoted(key: string): string {
  let text = quotedKeys.get(key);
  if (text === undefined) {
    text = JSON.stringify(key);
    if (quotedKeys.size >= 50_000) quotedKeys.clear();
    quotedKeys.set(key, text);
  }
  return text;
}
