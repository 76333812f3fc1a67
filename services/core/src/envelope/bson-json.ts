import type { Document } from 'bson';
import { BSON } from './bson.js';

const { EJSON } = BSON;

/**
 * BSON values travel as canonical Extended JSON strings so that Decimal128, Long, Int32 vs Double, Date,
 * ObjectId and Binary keep their exact type all the way to BigQuery (plain JSON would turn them into lossy numbers).
 */
export function toCanonicalJson(value: unknown): string {
  return EJSON.stringify(value as Document, { relaxed: false });
}

export function fromCanonicalJson<T = Document>(json: string): T {
  return EJSON.parse(json, { relaxed: false }) as T;
}

/** Canonical string of a document key (`_id` value): stable across processes, used as Kafka key and document_id. */
export function documentIdOf(documentKey: Document): string {
  return toCanonicalJson(documentKey._id);
}
