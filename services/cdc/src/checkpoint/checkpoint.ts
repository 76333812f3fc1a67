import { z } from 'zod';
import { ClusterTimeSchema, type ClusterTime } from '@cdc/core';
import { clusterTimeOfToken } from '../transform/resume-token.js';

/**
 * A collection of a database or deployment scope (CDC_CAPTURE_SCOPE), as the scope's checkpoint records it:
 * snapshotting (from its start time, after its last _id), streaming, or ended by a drop or rename (stopped with
 * CDC_ON_STREAM_END=stop: its later events are not captured; dropped with reopen: a new collection of that name is
 * picked up again as new).
 */
export const CollectionStateSchema = z.discriminatedUnion('phase', [
  z.object({
    phase: z.literal('snapshot'),
    /** null until its first chunk is committed */
    snapshot_at: ClusterTimeSchema.nullable(),
    last_id: z.string().nullable(),
    events: z.number().int().min(0),
    replaces_history: z.literal(true).optional(),
    /** a re-snapshot of only the documents matching this query filter (canonical Extended JSON) */
    filter: z.string().optional(),
  }),
  z.object({ phase: z.literal('streaming') }),
  z.object({ phase: z.literal('stopped') }),
  z.object({ phase: z.literal('dropped') }),
]);
export type CollectionState = z.infer<typeof CollectionStateSchema>;

/**
 * What the CDC service persists, per stream, in the compacted checkpoint topic, inside the same Kafka
 * transaction as the events it covers.
 */
export const CheckpointSchema = z.discriminatedUnion('phase', [
  z.object({
    version: z.literal(1),
    phase: z.literal('snapshot'),
    snapshot_at: ClusterTimeSchema,
    /** canonical Extended JSON of the last _id emitted, null before the first batch */
    last_id: z.string().nullable(),
    /** snapshot events published so far (dead letters not counted) */
    events: z.number().int().min(0).optional(),
    /** this snapshot replaces a lost history: it ends with a snapshot-complete marker */
    replaces_history: z.literal(true).optional(),
    updated_at: z.string(),
  }),
  z.object({
    version: z.literal(1),
    phase: z.literal('stream'),
    /** resume token (_data) of the last event published; null right after a snapshot */
    resume_token: z.string().nullable(),
    /** the token is a drop/rename/invalidate event: reopen with startAfter instead of resumeAfter */
    start_after: z.boolean().optional(),
    /** where to start when there is no token yet: the snapshot's start time */
    start_at: ClusterTimeSchema.nullable(),
    /** a database or deployment scope's collections by db.collection, as of this checkpoint */
    collections: z.record(z.string(), CollectionStateSchema).optional(),
    updated_at: z.string(),
  }),
]);
export type Checkpoint = z.infer<typeof CheckpointSchema>;

export function encodeCheckpoint(checkpoint: Checkpoint): Buffer {
  return Buffer.from(JSON.stringify(checkpoint));
}

export function decodeCheckpoint(bytes: Buffer): Checkpoint {
  return CheckpointSchema.parse(JSON.parse(bytes.toString('utf8')));
}

/** Same checkpoint, whatever the key order (a decoded checkpoint follows the schema's order). */
export function sameCheckpoint(a: Checkpoint | null, b: Checkpoint): boolean {
  const sorted = (c: Checkpoint) => JSON.stringify(c, Object.keys(c).sort());
  return a !== null && sorted(a) === sorted(b);
}

/**
 * The oldest oplog position a restart from this checkpoint needs: the snapshot's start time (streaming begins
 * there), the resume token's cluster time, or the stream's start time. Null when it cannot be told.
 */
export function resumePointOf(checkpoint: Checkpoint): ClusterTime | null {
  if (checkpoint.phase === 'snapshot') return checkpoint.snapshot_at;
  if (checkpoint.resume_token !== null) return clusterTimeOfToken(checkpoint.resume_token);
  return checkpoint.start_at;
}
