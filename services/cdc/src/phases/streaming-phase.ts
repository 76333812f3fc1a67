import { FatalError, type Logger } from '@cdc/core';
import type { ChangeBatch } from '../source/change-batcher.js';
import type { ResumePoint } from '../source/change-source.js';
import type { CdcMetrics } from '../metrics.js';
import { streamCheckpoint, type BatchCommitter } from './committer.js';
import { HeartbeatSchedule } from './heartbeat.js';

/** Batches of changes from an open change stream (ChangeSource + ChangeBatcher; a fake in unit tests). */
export interface ChangeBatches {
  next(): Promise<ChangeBatch>;
  close(): Promise<void>;
}

export interface StreamingPhaseDeps {
  committer: Pick<BatchCommitter, 'commit'>;
  open(from: ResumePoint): ChangeBatches;
  metrics: CdcMetrics;
  logger: Logger;
  streamId: string;
  /** a quiet stream checkpoints its position at least this often (CDC_HEARTBEAT_INTERVAL_MS) */
  heartbeatIntervalMs: number;
  /** the service's stop: the stream ends after the batch in hand is committed */
  signal: AbortSignal;
  /** the clock of the heartbeat schedule (a fake in unit tests) */
  now?: () => number;
}

/**
 * Streaming: each batch of changes committed with the resume token of its last change; while no change comes, the
 * stream's position (postBatchResumeToken) is committed alone once a heartbeat is due, so the resume point of a
 * quiet collection keeps up with the oplog instead of rolling off it. One transaction is in
 * flight while the next batch is read (bounded memory; Kafka's pace sets ours). Returns where to reopen after an
 * invalidate (CDC_ON_STREAM_END=reopen) or, once stopped, where it was; a drop/rename/invalidate with =stop ends
 * with a FatalError after the changes read before it are committed.
 */
export class StreamingPhase {
  constructor(private readonly deps: StreamingPhaseDeps) {}

  async run(from: ResumePoint): Promise<ResumePoint> {
    const { committer, logger, streamId } = this.deps;
    const batches = this.deps.open(from);
    logger.info({ streamId, from: from.kind }, 'change stream opened');
    const heartbeat = new HeartbeatSchedule(this.deps.heartbeatIntervalMs, this.deps.now);
    let committedToken = from.kind === 'token' ? from.token : null;
    let inFlight: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        const readStarted = performance.now();
        const batch = await batches.next();
        const readEnded = performance.now();
        this.account(batch);
        await inFlight;
        this.timeSpent(readStarted, readEnded, performance.now());
        // A position equal to the one committed says nothing new (no write anywhere since).
        const worthCommitting = !batch.positionOnly || (heartbeat.due && batch.lastToken !== committedToken);
        if (batch.lastToken !== null && worthCommitting) {
          heartbeat.committed();
          committedToken = batch.lastToken;
          inFlight = committer.commit({
            messages: batch.messages,
            ops: new Map(batch.ops),
            lastClusterTime: batch.lastClusterTime,
            checkpoint: streamCheckpoint(batch.lastToken, null, batch.reopenAfter !== null),
          });
          if (batch.positionOnly) inFlight = inFlight.then(() => this.deps.metrics.heartbeats.inc({ stream: streamId }));
        }
        if (batch.fatal !== null) {
          await inFlight;
          throw new FatalError(batch.fatal, { reason: 'stream-ended', exitCode: 3 });
        }
        if (batch.reopenAfter !== null) {
          await inFlight;
          return { kind: 'after-end', token: batch.reopenAfter };
        }
        if (this.deps.signal.aborted) {
          await inFlight;
          return from;
        }
      }
    } finally {
      await inFlight.catch(() => undefined);
      await batches.close();
    }
  }

  private timeSpent(readStarted: number, readEnded: number, waitEnded: number): void {
    const { metrics, streamId } = this.deps;
    metrics.streamingSeconds.inc({ stream: streamId, step: 'read' }, (readEnded - readStarted) / 1000);
    metrics.streamingSeconds.inc({ stream: streamId, step: 'commit_wait' }, (waitEnded - readEnded) / 1000);
  }

  /** Logs and counts what the batcher saw. */
  private account(batch: ChangeBatch): void {
    const { metrics, logger, streamId } = this.deps;
    for (const end of batch.streamEnds) {
      metrics.streamEnds.inc({ stream: streamId, type: end.type });
      logger.warn({ streamId, type: end.type, resume_token: end.resume_token }, 'change stream end event');
    }
    for (const dead of batch.deadLetters) {
      metrics.deadLetters.inc({ stream: streamId, reason: dead.reason });
      logger.warn({ streamId, resume_token: dead.resume_token, reason: dead.reason }, 'event sent to dead-letter topic');
    }
    for (const [op, count] of batch.ops) metrics.eventsRead.inc({ stream: streamId, op }, count);
    metrics.batchBytes.set({ stream: streamId }, batch.bytes);
  }
}
