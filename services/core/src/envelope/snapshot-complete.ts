import { z } from 'zod';

/** The `document` of a snapshot-complete marker: how many snapshot events the snapshot published. */
const SnapshotCompleteSchema = z.object({ snapshot_events: z.number().int().min(0) });
export type SnapshotComplete = z.infer<typeof SnapshotCompleteSchema>;

/** The marker is no document: its key names the snapshot's cdc instance (one snapshot per stream at a time). */
export function snapshotCompleteDocumentId(instance: string): string {
  return `snapshot-complete:${instance}`;
}

export function encodeSnapshotComplete(marker: SnapshotComplete): string {
  return JSON.stringify(marker);
}

export function decodeSnapshotComplete(document: string): SnapshotComplete {
  return SnapshotCompleteSchema.parse(JSON.parse(document));
}
