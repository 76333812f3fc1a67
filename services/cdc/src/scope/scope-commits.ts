import { streamCheckpoint, type BatchCommitter, type PendingBatch } from '../phases/committer.js';
import type { Checkpoint, CollectionState } from '../checkpoint/checkpoint.js';
import type { ScopeCollections } from './scope-collections.js';

export type StreamPosition = Pick<Extract<Checkpoint, { phase: 'stream' }>, 'resume_token' | 'start_at' | 'start_after'>;

/**
 * The one transaction at a time of a scope's stream: its batches and its collections' snapshot chunks, in the
 * order they are handed over, each with the scope's whole checkpoint (the stream's position as of its last batch,
 * every collection's state) built when its turn comes, so the last committed checkpoint always holds the latest of
 * both. A failed transaction fails the ones queued after it (the service ends). A collection's own stream
 * (CDC_CAPTURE_SCOPE=collection) commits through it too, its states holding that one collection (a re-snapshot's).
 */
export class ScopeCommits {
  private tail: Promise<void> = Promise.resolve();
  private position: StreamPosition = { resume_token: null, start_at: null };

  constructor(
    private readonly committer: BatchCommitter,
    private readonly collections: ScopeCollections,
  ) {}

  /** Where the stream stands: as loaded from the checkpoint, or as its last batch left it. */
  restore(position: StreamPosition): void {
    this.position = { resume_token: position.resume_token, start_at: position.start_at, ...(position.start_after ? { start_after: true } : {}) };
  }

  private enqueue(batch: PendingBatch, update: () => Promise<void> | void, committed: () => void = () => undefined): Promise<void> {
    const run = this.tail.then(async () => {
      await update();
      const { resume_token, start_at, start_after } = this.position;
      const checkpoint: Checkpoint = { ...streamCheckpoint(resume_token, start_at, start_after === true), collections: this.collections.snapshot() };
      await this.committer.commit({ ...batch, checkpoint });
      committed();
    });
    this.tail = run;
    return run;
  }

  /** What the streaming phase commits through: its batch's position and the collection changes its events made. */
  readonly stream = {
    commit: (batch: PendingBatch): Promise<void> => {
      const noted = this.collections.takeNoted();
      return this.enqueue(batch, async () => {
        if (batch.checkpoint.phase === 'stream') this.restore(batch.checkpoint);
        await this.collections.apply(noted);
      });
    },
  };

  /** What one collection's snapshot commits through: its progress, then (a stream checkpoint) its end. */
  snapshotOf(ns: string): Pick<BatchCommitter, 'commit'> {
    return {
      commit: (batch: PendingBatch) =>
        this.enqueue(batch, () => {
          const { checkpoint } = batch;
          const progress: CollectionState =
            checkpoint.phase === 'snapshot'
              ? { phase: 'snapshot', snapshot_at: checkpoint.snapshot_at, last_id: checkpoint.last_id, events: checkpoint.events ?? 0, ...(checkpoint.replaces_history ? { replaces_history: true as const } : {}) }
              : { phase: 'streaming' };
          this.collections.snapshotProgress(ns, progress);
        }, () => {
          if (batch.checkpoint.phase === 'snapshot') this.collections.snapshotCommitted(ns, batch.checkpoint.events ?? 0);
        }),
    };
  }

  /** The collections' states alone, at the stream's position (a re-snapshot asked for). */
  checkpointStates(): Promise<void> {
    return this.enqueue({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(null, null) }, () => undefined);
  }

  /** The current state alone at `position` (a start that found new collections, or after a lost history). */
  checkpointNow(position: StreamPosition): Promise<void> {
    const { resume_token, start_at, start_after } = position;
    return this.enqueue({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(resume_token, start_at, start_after === true) }, () => this.restore(position));
  }
}

