import { hash } from 'node:crypto';
import type { ClusterTime } from './envelope.js';

function digest(text: string): string {
  // one call, no Hash object: it runs once per change
  return hash('sha256', text, 'hex').slice(0, 32);
}

/** A change re-delivered from the same resume token always gets the same id, so duplicates can be dropped. */
export function eventIdFromResumeToken(resumeTokenData: string): string {
  return digest(`change:${resumeTokenData}`);
}

/** Snapshot rows have no resume token: their identity is the document and the snapshot's start time. */
export function snapshotEventId(db: string, coll: string, documentId: string, snapshotAt: ClusterTime): string {
  return digest(`snapshot:${db}.${coll}:${documentId}:${snapshotAt.t}.${snapshotAt.i}`);
}

/** The marker that ends a snapshot replacing a lost history: one per snapshot (stream instance and start time). */
export function snapshotCompleteEventId(db: string, coll: string, instance: string, snapshotAt: ClusterTime): string {
  return digest(snapshotCompleteIdText(db, coll, instance, snapshotAt));
}

/**
 * The delete of a document that snapshot did not see. The loader makes it in SQL (SUBSTR(TO_HEX(SHA256(text)), 1,
 * 32) of the same text): a retry makes the same id, so nothing is deleted twice.
 */
export function snapshotDeleteEventId(db: string, coll: string, documentId: string, instance: string, snapshotAt: ClusterTime): string {
  return digest(`${snapshotCompleteIdText(db, coll, instance, snapshotAt)}:delete:${documentId}`);
}

function snapshotCompleteIdText(db: string, coll: string, instance: string, snapshotAt: ClusterTime): string {
  return `snapshot-complete:${db}.${coll}:${instance}:${snapshotAt.t}.${snapshotAt.i}`;
}
