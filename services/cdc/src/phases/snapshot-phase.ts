import { FatalError, type ClusterTime, type Logger, type OutgoingMessage } from '@cdc/core';
import type { Document } from 'mongodb';
import { clusterTimeAfter, snapshotCompleteEnvelope, snapshotToEnvelope } from '../transform/to-envelope.js';
import type { SnapshotResume } from '../checkpoint/plan.js';
import { eventToMessage } from '../transform/to-message.js';
import type { CdcMetrics } from '../metrics.js';
import { streamCheckpoint, type BatchCommitter } from './committer.js';

/** The collection in _id order, one bounded batch at a time (SnapshotSource; a fake in unit tests). */
export interface SnapshotReader {
  nextBatch(): Promise<Document[]>;
  readonly lastIdJson: string | null;
}

export interface SnapshotPhaseDeps {
  committer: Pick<BatchCommitter, 'commit'>;
  openReader(lastIdJson: string | null): SnapshotReader;
  clusterTimeNow(): Promise<ClusterTime>;
  metrics: CdcMetrics;
  logger: Logger;
  settings: { streamId: string; db: string; coll: string; topic: string; instance: string; maxMessageBytes: number };
  /** the service's stop: the snapshot ends before its next batch */
  signal: AbortSignal;
}

/**
 * The initial snapshot: every document as a snapshot event, each batch committed with a snapshot checkpoint
 * (resumable after the last _id), then a stream checkpoint just after the snapshot's start time. Returns that
 * position: the streaming phase starts there, so every change made during the scan is replayed. A snapshot that replaces a lost
 * history (`replacesHistory`, kept in its checkpoints across a crash) also puts a snapshot-complete marker, with
 * the number of snapshot events published, in the transaction of that last checkpoint: exactly once, after all
 * of them. Downstream it stands for the deletes the lost history held.
 */
export class SnapshotPhase {
  constructor(private readonly deps: SnapshotPhaseDeps) {}

  async run(resumeFrom: SnapshotResume | null, replacesHistory = false): Promise<ClusterTime> {
    const { committer, metrics, logger, settings } = this.deps;
    const { db, coll, streamId } = settings;
    const origin = { instance: settings.instance };
    const marked = resumeFrom?.replacesHistory ?? replacesHistory;
    // The cluster time is taken before the scan: streaming from it replays every change made during the scan.
    const snapshotAt = resumeFrom?.snapshotAt ?? (await this.deps.clusterTimeNow());
    const reader = this.deps.openReader(resumeFrom?.lastId ?? null);
    logger.info({ streamId, snapshotAt, resumingAfter: resumeFrom?.lastId ?? null, replacesHistory: marked }, 'snapshot started');
    let total = 0;
    let published = resumeFrom?.events ?? 0;
    for (;;) {
      if (this.deps.signal.aborted) throw new FatalError('stopped during snapshot; it resumes from its last checkpoint', { reason: 'stopped', exitCode: 0 });
      const docs = await reader.nextBatch();
      if (docs.length === 0) break;
      const messages: OutgoingMessage[] = [];
      for (const doc of docs) {
        const event = snapshotToEnvelope(db, coll, doc, snapshotAt, origin);
        const encoded = eventToMessage(event, settings.topic, settings.maxMessageBytes);
        if (encoded.ok) published++;
        else metrics.deadLetters.inc({ stream: streamId, reason: 'oversize' });
        messages.push(encoded.out);
      }
      await committer.commit({
        messages,
        ops: new Map([['snapshot', docs.length]]),
        lastClusterTime: snapshotAt,
        checkpoint: {
          version: 1,
          phase: 'snapshot',
          snapshot_at: snapshotAt,
          last_id: reader.lastIdJson,
          events: published,
          ...(marked ? { replaces_history: true as const } : {}),
          updated_at: new Date().toISOString(),
        },
      });
      total += docs.length;
      metrics.snapshotDocuments.inc({ stream: streamId }, docs.length);
    }
    const marker = marked ? [eventToMessage(snapshotCompleteEnvelope(db, coll, snapshotAt, published, origin), settings.topic, settings.maxMessageBytes).out] : [];
    // The stream starts just after the snapshot's start time: the write at that time (the newest before the scan)
    // is in the scan, and startAtOperationTime is inclusive, so streamed too it came twice (a row and its change).
    const streamFrom = clusterTimeAfter(snapshotAt);
    await committer.commit({ messages: marker, ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(null, streamFrom) });
    logger.info({ streamId, documents: total, snapshotEvents: published, marker: marked }, 'snapshot complete, streaming from just after its start time');
    return streamFrom;
  }
}
