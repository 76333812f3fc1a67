import { z } from 'zod';
import { ServiceError } from '../errors/errors.js';

export const ENVELOPE_SCHEMA_VERSION = 1;

/**
 * `snapshot_complete` is no document change: the marker a re-snapshot that replaced a lost history ends with
 * (see snapshotCompleteEvent); every other operation is one document's.
 */
export const OPERATIONS = ['insert', 'update', 'replace', 'delete', 'snapshot', 'snapshot_complete'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** The operations that change one document. */
export const DOCUMENT_OPERATIONS = OPERATIONS.filter((op) => op !== 'snapshot_complete');

const uint32 = z.number().int().min(0).max(0xffffffff);

export const ClusterTimeSchema = z.object({
  /** seconds since the epoch (high half of the BSON Timestamp) */
  t: uint32,
  /** ordinal within the second (low half of the BSON Timestamp) */
  i: uint32,
});
export type ClusterTime = z.infer<typeof ClusterTimeSchema>;

export const UpdateDescriptionSchema = z.object({
  /** canonical Extended JSON of the updatedFields document */
  updated_fields: z.string(),
  removed_fields: z.array(z.string()),
  truncated_arrays: z.array(z.object({ field: z.string(), new_size: z.number().int().min(0) })),
});
export type UpdateDescription = z.infer<typeof UpdateDescriptionSchema>;

export const SourceSchema = z.object({
  /** the CDC instance that captured the change */
  instance: z.string().min(1),
  /** true for rows read by the initial snapshot rather than from the change stream */
  snapshot: z.boolean(),
});

/** Version 1 of the change-event envelope, the contract between every service. */
export const ChangeEventSchema = z.object({
  schema_version: z.literal(ENVELOPE_SCHEMA_VERSION),
  event_id: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lowercase hex characters'),
  op: z.enum(OPERATIONS),
  db: z.string().min(1),
  coll: z.string().min(1),
  document_id: z.string().min(1),
  /** canonical Extended JSON of the full document after the change; null for deletes (and updates of a since-deleted doc) */
  document: z.string().nullable(),
  /** canonical Extended JSON of the document before the change, when the source provides it */
  document_before: z.string().nullable().optional(),
  update_description: UpdateDescriptionSchema.nullable(),
  cluster_time: ClusterTimeSchema,
  /** ISO-8601 wall-clock time of the change on the server, when known */
  wall_time: z.string().datetime({ offset: true }).nullable(),
  /** change-stream resume token (`_id._data`); null for snapshot rows */
  resume_token: z.string().nullable(),
  source: SourceSchema,
});
export type ChangeEvent = z.infer<typeof ChangeEventSchema>;

/** A record that is not a change event of ours: the record's fault, so it is dead-lettered with `reason`. */
export class EnvelopeError extends ServiceError {
  declare readonly reason: 'not_json' | 'unknown_schema_version' | 'invalid_envelope';

  constructor(message: string, reason: EnvelopeError['reason']) {
    super(message, { reason });
  }
}

/** Strict UTF-8: invalid bytes throw instead of becoming U+FFFD (which would alter the data without a trace). */
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decode a Kafka message value into a change event, classifying failures for dead-lettering. */
export function decodeChangeEvent(bytes: Buffer | string): ChangeEvent {
  let text: string;
  try {
    text = typeof bytes === 'string' ? bytes : utf8.decode(bytes);
  } catch {
    throw new EnvelopeError('value is not JSON: it is not valid UTF-8 text', 'not_json');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new EnvelopeError(`value is not JSON: ${(error as Error).message}`, 'not_json');
  }
  const version = (parsed as { schema_version?: unknown } | null)?.schema_version;
  if (version !== ENVELOPE_SCHEMA_VERSION) {
    throw new EnvelopeError(`unknown schema_version ${JSON.stringify(version)}`, 'unknown_schema_version');
  }
  const result = ChangeEventSchema.safeParse(parsed);
  if (!result.success) {
    const detail = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new EnvelopeError(`invalid envelope: ${detail}`, 'invalid_envelope');
  }
  return result.data;
}

/** The Kafka record value: JSON text. */
export function encodeChangeEvent(event: ChangeEvent): string {
  return JSON.stringify(event);
}

/** Total order of changes to one document: cluster time, then increment. */
export function compareClusterTime(a: ClusterTime, b: ClusterTime): number {
  return a.t - b.t || a.i - b.i;
}
