import { FatalError, type ClusterTime, type Logger } from '@cdc/core';
import type { Document } from 'mongodb';
import { snapshotToEnvelope } from '../transform/to-envelope.js';
import { eventToMessage } from '../transform/to-message.js';
import type { OutgoingMessage } from '../sink/transactional-publisher.js';
import type { CdcMetrics } from '../metrics.js';
import { streamCheckpoint, type BatchCommitter } from './committer.js';

/** The collection in _id order, one bounded batch at a time (SnapshotSource; a fake in unit tests). */
export interface SnapshotReader {
  nextBatch(): Promise<Document[]>;
  readonly lastIdJson: string | null;
}

export interface SnapshotPhaseDeps {
  committer: BatchCommitter;
  openReader(lastIdJson: string | null): SnapshotReader;
  clusterTimeNow(): Promise<ClusterTime>;
  metrics: CdcMetrics;
  logger: Logger;
  settings: { streamId: string; db: string; coll: string; topic: string; instance: string; maxMessageBytes: number };
  isStopping(): boolean;
}

/**
 * The initial snapshot: every document as a snapshot event, each batch committed with a snapshot checkpoint
 * (resumable after the last _id), then a stream checkpoint at the snapshot's start time. Returns that time: the
 * streaming phase starts there, so every change made during the scan is replayed.
 */
export class SnapshotPhase {
  constructor(private readonly deps: SnapshotPhaseDeps) {}

  async run(resumeFrom: { snapshotAt: ClusterTime; lastId: string | null } | null): Promise<ClusterTime> {
    const { committer, metrics, logger, settings } = this.deps;
    const { db, coll, streamId } = settings;
    // The cluster time is taken before the scan: streaming from it replays every change made during the scan.
    const snapshotAt = resumeFrom?.snapshotAt ?? (await this.deps.clusterTimeNow());
    const reader = this.deps.openReader(resumeFrom?.lastId ?? null);
    logger.info({ streamId, snapshotAt, resumingAfter: resumeFrom?.lastId ?? null }, 'snapshot started');
    let total = 0;
    for (;;) {
      if (this.deps.isStopping()) throw new FatalError('stopped during snapshot; it resumes from its last checkpoint', { reason: 'stopped', exitCode: 0 });
      const docs = await reader.nextBatch();
      if (docs.length === 0) break;
      const messages: OutgoingMessage[] = [];
      for (const doc of docs) {
        const event = snapshotToEnvelope(db, coll, doc, snapshotAt, { instance: settings.instance });
        const encoded = eventToMessage(event, settings.topic, settings.maxMessageBytes);
        if (!encoded.ok) metrics.deadLetters.inc({ stream: streamId, reason: 'oversize' });
        messages.push(encoded.out);
      }
      await committer.commit({
        messages,
        ops: new Map([['snapshot', docs.length]]),
        lastClusterTime: snapshotAt,
        checkpoint: { version: 1, phase: 'snapshot', snapshot_at: snapshotAt, last_id: reader.lastIdJson, updated_at: new Date().toISOString() },
      });
      total += docs.length;
      metrics.snapshotDocuments.inc({ stream: streamId }, docs.length);
    }
    await committer.commit({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(null, snapshotAt) });
    logger.info({ streamId, documents: total }, 'snapshot complete, streaming from its start time');
    return snapshotAt;
  }
}
