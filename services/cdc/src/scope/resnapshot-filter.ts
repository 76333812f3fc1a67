import type { Document } from 'mongodb';
import { fromCanonicalJson, toCanonicalJson } from '@cdc/core';

/** Query operators a re-snapshot's filter may use: matching only (no server-side JavaScript, no stages). */
const OPERATORS = new Set([
  '$and', '$or', '$nor', '$not',
  '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin',
  '$exists', '$type', '$regex', '$options', '$all', '$elemMatch', '$size', '$mod',
]);

/** The request body's longest accepted length: a filter, not a document dump. */
export const MAX_FILTER_BODY_BYTES = 64 * 1024;

export type FilterParse = { ok: true; filter?: string } | { ok: false; reason: string };

/**
 * A re-snapshot request's body: empty (the whole collection) or `{"filter": {...}}`, a MongoDB query filter in
 * Extended JSON (`{"$date": ...}`, `{"$oid": ...}` for typed values). Returns it as canonical Extended JSON (what the
 * checkpoint keeps, so a resume uses the same filter), or why it is refused.
 */
export function parseResnapshotBody(body: string): FilterParse {
  if (body.trim() === '') return { ok: true };
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (error) {
    return { ok: false, reason: `the body is not JSON: ${(error as Error).message}` };
  }
  if (!isPlainObject(parsed)) return { ok: false, reason: 'the body is a JSON object: {"filter": {...}}' };
  const unknown = Object.keys(parsed).filter((key) => key !== 'filter');
  if (unknown.length > 0) return { ok: false, reason: `unknown field(s) ${unknown.join(', ')}: the body holds only "filter"` };
  if (parsed.filter === undefined) return { ok: true };
  if (!isPlainObject(parsed.filter)) return { ok: false, reason: '"filter" is a MongoDB query filter: a JSON object' };
  let filter: Document;
  try {
    filter = fromCanonicalJson<Document>(JSON.stringify(parsed.filter));
  } catch (error) {
    return { ok: false, reason: `"filter" is not valid Extended JSON: ${(error as Error).message}` };
  }
  const refused = refusedOperator(filter);
  if (refused !== null) return { ok: false, reason: `"filter" uses ${refused}: only the query operators ${[...OPERATORS].join(' ')} are accepted` };
  return Object.keys(filter).length === 0 ? { ok: true } : { ok: true, filter: toCanonicalJson(filter) };
}

/** The first operator of `value` (a filter, after Extended JSON made its typed values BSON) not accepted. */
function refusedOperator(value: unknown): string | null {
  if (Array.isArray(value)) {
    for (const item of value) {
      const refused = refusedOperator(item);
      if (refused !== null) return refused;
    }
    return null;
  }
  if (!isPlainObject(value)) return null;
  for (const [key, inner] of Object.entries(value)) {
    if (key.startsWith('$') && !OPERATORS.has(key)) return key;
    const refused = refusedOperator(inner);
    if (refused !== null) return refused;
  }
  return null;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
