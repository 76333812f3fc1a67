import type { ClusterTime, OutgoingMessage } from '@cdc/core';
import { resumePointOf, sameCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { Publisher } from '../sink/transactional-publisher.js';
import type { CdcMetrics } from '../metrics.js';

/** What the phases need from the stream's checkpoint store (a fake in unit tests). */
export interface CheckpointLog {
  message(checkpoint: Checkpoint): OutgoingMessage;
  load(): Promise<Checkpoint | null>;
}

export interface PendingBatch {
  messages: OutgoingMessage[];
  checkpoint: Checkpoint;
  ops: Map<string, number>;
  lastClusterTime: ClusterTime | null;
}

/** One batch of a stream and its checkpoint, in one transaction; what both phases commit through. */
export class BatchCommitter {
  /** cluster time a restart would resume from: the last committed (or loaded) checkpoint's; null when unknown */
  resumePoint: ClusterTime | null = null;

  constructor(
    private readonly streamId: string,
    private readonly publisher: Publisher,
    private readonly checkpoints: CheckpointLog,
    private readonly metrics: CdcMetrics,
    /** the service's stop: a failed transaction is not retried once it is aborted */
    private readonly signal: AbortSignal,
  ) {}

  async commit(batch: PendingBatch): Promise<void> {
    const { streamId } = this;
    const messages = [...batch.messages, this.checkpoints.message(batch.checkpoint)];
    await this.publisher.publish(messages, {
      signal: this.signal,
      // The checkpoint carries its own timestamp: finding it as the latest one means this very transaction committed.
      committedAlready: async () => sameCheckpoint(await this.checkpoints.load(), batch.checkpoint),
    });
    this.metrics.transactions.inc({ stream: streamId });
    for (const [op, count] of batch.ops) this.metrics.eventsPublished.inc({ stream: streamId, op }, count);
    this.metrics.lastCheckpoint.set({ stream: streamId }, Date.now() / 1000);
    this.resumePoint = resumePointOf(batch.checkpoint);
    if (batch.lastClusterTime) this.metrics.lastEventClusterTime.set({ stream: streamId }, batch.lastClusterTime.t);
  }
}

/** A stream checkpoint: after a token, or (no token yet) from a cluster time. */
export function streamCheckpoint(token: string | null, startAt: ClusterTime | null, startAfter = false): Extract<Checkpoint, { phase: 'stream' }> {
  return { version: 1, phase: 'stream', resume_token: token, start_at: startAt, ...(startAfter ? { start_after: true } : {}), updated_at: new Date().toISOString() };
}
