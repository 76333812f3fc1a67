import { createHash } from 'node:crypto';
import type { ClusterTime } from './envelope.js';

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A change re-delivered from the same resume token always gets the same id, so duplicates can be dropped. */
export function eventIdFromResumeToken(resumeTokenData: string): string {
  return digest(`change:${resumeTokenData}`);
}

/** Snapshot rows have no resume token: their identity is the document and the snapshot's start time. */
export function snapshotEventId(db: string, coll: string, documentId: string, snapshotAt: ClusterTime): string {
  return digest(`snapshot:${db}.${coll}:${documentId}:${snapshotAt.t}.${snapshotAt.i}`);
}
