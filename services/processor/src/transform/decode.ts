import { ChangeEventSchema, decodeChangeEvent, ENVELOPE_SCHEMA_VERSION, OPERATIONS, type ChangeEvent, type UpdateDescription } from '@cdc/core';

// The processor's decoding of a record value, once per record: the envelope checked field by field in plain code,
// which accepts only what the envelope's schema accepts and returns what it would (its fields in its order, other
// keys dropped). Anything it does not accept goes through decodeChangeEvent, which names what is wrong.

/** Strict UTF-8, as decodeChangeEvent's: invalid bytes are not JSON of ours. */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const operations: ReadonlySet<unknown> = new Set(OPERATIONS);
const eventIdPattern = /^[0-9a-f]{32}$/;
/** the schema's own date-time rule (with offset) */
const wallTimeSchema = ChangeEventSchema.shape.wall_time;

type Fields = Record<string, unknown>;
const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isTextOrNull = (v: unknown): v is string | null => v === null || typeof v === 'string';
const isUint32 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff;

function updateDescriptionOf(v: unknown): UpdateDescription | null | undefined {
  if (v === null) return null;
  if (!isObject(v) || typeof v.updated_fields !== 'string' || !Array.isArray(v.removed_fields) || !Array.isArray(v.truncated_arrays)) return undefined;
  if (!v.removed_fields.every((f) => typeof f === 'string')) return undefined;
  const truncated: UpdateDescription['truncated_arrays'] = [];
  for (const t of v.truncated_arrays) {
    if (!isObject(t) || typeof t.field !== 'string' || !Number.isSafeInteger(t.new_size) || (t.new_size as number) < 0) return undefined;
    truncated.push({ field: t.field, new_size: t.new_size as number });
  }
  return { updated_fields: v.updated_fields, removed_fields: [...(v.removed_fields as string[])], truncated_arrays: truncated };
}

/** The envelope as ChangeEventSchema would return it, or null where the schema must decide (and explain). */
function checked(e: Fields): ChangeEvent | null {
  const { cluster_time: time, source, wall_time: wallTime } = e;
  if (e.schema_version !== ENVELOPE_SCHEMA_VERSION || typeof e.event_id !== 'string' || !eventIdPattern.test(e.event_id) || !operations.has(e.op)) return null;
  if (!isName(e.db) || !isName(e.coll) || !isName(e.document_id) || !isTextOrNull(e.document) || !isTextOrNull(e.resume_token)) return null;
  if (e.document_before !== undefined && !isTextOrNull(e.document_before)) return null;
  if (!isObject(time) || !isUint32(time.t) || !isUint32(time.i) || !isObject(source) || !isName(source.instance) || typeof source.snapshot !== 'boolean') return null;
  if (wallTime !== null && (typeof wallTime !== 'string' || !wallTimeSchema.safeParse(wallTime).success)) return null;
  const updateDescription = updateDescriptionOf(e.update_description);
  if (updateDescription === undefined) return null;
  return {
    schema_version: ENVELOPE_SCHEMA_VERSION,
    event_id: e.event_id,
    op: e.op as ChangeEvent['op'],
    db: e.db,
    coll: e.coll,
    document_id: e.document_id,
    document: e.document,
    ...(e.document_before !== undefined ? { document_before: e.document_before } : {}),
    update_description: updateDescription,
    cluster_time: { t: time.t, i: time.i },
    wall_time: wallTime,
    resume_token: e.resume_token,
    source: { instance: source.instance, snapshot: source.snapshot },
  };
}

/** A record value → its change event; throws decodeChangeEvent's EnvelopeError (with its reason) when it is none. */
export function decodeEnvelope(bytes: Buffer): ChangeEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch {
    return decodeChangeEvent(bytes);
  }
  return (isObject(parsed) ? checked(parsed) : null) ?? decodeChangeEvent(bytes);
}
