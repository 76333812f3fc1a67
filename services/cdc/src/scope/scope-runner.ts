import { Timestamp, type MongoClient } from 'mongodb';
import { FatalError, type Logger } from '@cdc/core';
import { BatchCommitter, streamCheckpoint, type CheckpointLog, type PendingBatch } from '../phases/committer.js';
import type { Publisher } from '../sink/transactional-publisher.js';
import { StreamRunner, streamingPhaseOf, type StreamSettings } from '../stream-runner.js';
import type { Checkpoint, CollectionState } from '../checkpoint/checkpoint.js';
import type { ResumePoint } from '../source/change-source.js';
import { currentClusterTime } from '../source/change-source.js';
import { SnapshotSource } from '../source/snapshot-source.js';
import { SnapshotPhase } from '../phases/snapshot-phase.js';
import { clusterTimeAfter, clusterTimeOf } from '../transform/to-envelope.js';
import type { CdcMetrics } from '../metrics.js';
import type { ScopeCollections } from './scope-collections.js';
import type { CaptureScope } from './capture-scope.js';

type StreamPosition = Pick<Extract<Checkpoint, { phase: 'stream' }>, 'resume_token' | 'start_at' | 'start_after'>;

/**
 * The one transaction at a time of a scope's stream: its batches and its collections' snapshot chunks, in the
 * order they are handed over, each with the scope's whole checkpoint (the stream's position as of its last batch,
 * every collection's state) built when its turn comes, so the last committed checkpoint always holds the latest of
 * both. A failed transaction fails the ones queued after it (the service ends).
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

export interface ScopeStartDeps {
  client: MongoClient;
  scope: CaptureScope;
  collections: ScopeCollections;
  commits: ScopeCommits;
  settings: { snapshotBatchSize: number; instance: string; maxMessageBytes: number };
  metrics: CdcMetrics;
  logger: Logger;
  signal: AbortSignal;
  /** a snapshot failed: the service ends */
  fail(error: unknown): void;
}

/**
 * How a scope's stream starts and what it does with a lost history, and the worker that snapshots its collections
 * one at a time beside the stream (which goes on for the others): a collection's snapshot rows carry the time taken
 * before its scan, so every change the stream publishes from then on is newer, whichever reaches Kafka first.
 */
export class ScopeStart {
  private wake: () => void = () => undefined;
  private worker: Promise<void> | null = null;

  constructor(private readonly deps: ScopeStartDeps) {
    deps.collections.onSnapshotDue = () => this.wake();
  }

  async start(checkpoint: Checkpoint | null): Promise<ResumePoint> {
    const { collections, commits, scope, client, logger } = this.deps;
    if (checkpoint !== null && checkpoint.phase !== 'stream') {
      throw new FatalError(`stream ${scope.streamId}: its checkpoint is a collection's, not a scope's (was CDC_CAPTURE_SCOPE changed?)`, { reason: 'checkpoint-mismatch' });
    }
    // A first start streams from just after now; a restart from its checkpoint.
    const at = checkpoint === null ? await this.justAfterNow() : null;
    const position: StreamPosition = checkpoint ?? { resume_token: null, start_at: clusterTimeOf(at!) };
    commits.restore(position);
    await collections.restore(checkpoint?.collections ?? {});
    // The collections the checkpoint does not know are new: snapshotted beside the stream (when the mode asks).
    const found = await collections.found((await scope.existing(client)).map(({ db, coll }) => `${db}.${coll}`));
    if (checkpoint === null || found > 0) await commits.checkpointNow(position);
    logger.info({ streamId: scope.streamId, collections: collections.status().length, new: found }, 'scope started');
    const from: ResumePoint =
      position.resume_token !== null
        ? { kind: position.start_after ? 'after-end' : 'token', token: position.resume_token }
        : { kind: 'time', at: at ?? toTimestamp(position.start_at!) };
    this.worker ??= this.snapshots().catch((error: unknown) => this.deps.fail(error));
    return from;
  }

  /** Every collection snapshotted again, the stream from now (CDC_ON_HISTORY_LOST=resnapshot). */
  async resnapshot(): Promise<ResumePoint> {
    const at = await this.justAfterNow();
    this.deps.collections.resnapshotAll();
    await this.deps.commits.checkpointNow({ resume_token: null, start_at: clusterTimeOf(at) });
    this.wake();
    return { kind: 'time', at };
  }

  /**
   * A collection copied again beside the stream (an operator's request): answered once its new state is committed,
   * so a restart resumes it; its chunks then commit with their progress as any snapshot's do.
   */
  async resnapshotOne(ns: string): Promise<ReturnType<ScopeCollections['requestResnapshot']>> {
    const outcome = this.deps.collections.requestResnapshot(ns);
    if (outcome !== 'started') return outcome;
    await this.deps.commits.checkpointStates();
    this.wake();
    return outcome;
  }

  /**
   * Where a stream starts that has no position: just after the newest write. startAtOperationTime is inclusive
   * (MongoDB's and the stand-in's), and the cluster time now is that of the newest write, made before the start:
   * the snapshots copy its effect, so streamed too it came twice (a snapshot row and its change).
   */
  private async justAfterNow(): Promise<Timestamp> {
    return toTimestamp(clusterTimeAfter(clusterTimeOf(await currentClusterTime(this.deps.client))));
  }

  /** Ends with the service (a failed snapshot has failed it). */
  get snapshotsDone(): Promise<void> {
    return this.worker ?? Promise.resolve();
  }

  private async snapshots(): Promise<void> {
    const { collections, commits, client, settings, metrics, logger, signal } = this.deps;
    while (!signal.aborted) {
      const next = collections.nextSnapshot();
      if (!next) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          signal.addEventListener('abort', () => resolve(), { once: true });
        });
        continue;
      }
      const [ns, state] = next;
      const dot = ns.indexOf('.');
      const [db, coll] = [ns.slice(0, dot), ns.slice(dot + 1)];
      const collection = client.db(db).collection(coll);
      collections.noteSnapshotEstimate(ns, await collection.estimatedDocumentCount());
      const phase = new SnapshotPhase({
        committer: commits.snapshotOf(ns),
        openReader: (lastId) => new SnapshotSource(collection, settings.snapshotBatchSize, lastId),
        clusterTimeNow: async () => clusterTimeOf(await currentClusterTime(client)),
        metrics,
        logger,
        settings: { streamId: ns, db, coll, topic: collections.topicOfCollection(ns), instance: settings.instance, maxMessageBytes: settings.maxMessageBytes },
        signal,
      });
      const resumeFrom = state.snapshot_at ? { snapshotAt: state.snapshot_at, lastId: state.last_id, events: state.events, replacesHistory: state.replaces_history === true } : null;
      try {
        await phase.run(resumeFrom, state.replaces_history === true);
      } catch (error) {
        if (signal.aborted) return; // stopped: it resumes from its last chunk
        throw error;
      }
    }
  }
}

const toTimestamp = (ct: { t: number; i: number }) => new Timestamp({ t: ct.t, i: ct.i });

/**
 * The runner of a database or deployment scope: ONE change stream (with the scope's $match, and the hash stage when
 * instances split by document key), its collections' snapshots beside it, every transaction through one publisher
 * with the scope's checkpoint.
 */
export function createScopeRunner(
  deps: Omit<ScopeStartDeps, 'commits'> & { publisher: Publisher; checkpoints: CheckpointLog; settings: StreamSettings & ScopeStartDeps['settings'] },
): { runner: StreamRunner; start: ScopeStart } {
  const { client, scope, collections, publisher, checkpoints, settings, metrics, logger, signal } = deps;
  let start: ScopeStart | undefined;
  const runner = new StreamRunner({
    settings,
    checkpoints,
    clusterTimeNow: () => currentClusterTime(client),
    logger,
    signal,
    scope: {
      start: (checkpoint) => start!.start(checkpoint),
      resnapshot: () => start!.resnapshot(),
    },
    units: (signal) => {
      const committer = new BatchCommitter(settings.streamId, publisher, checkpoints, metrics, signal);
      const commits = new ScopeCommits(committer, collections);
      start = new ScopeStart({ ...deps, commits, signal });
      const watched = () => (scope.kind === 'database' ? client.db(settings.db) : client);
      return { committer, streaming: streamingPhaseOf(watched, commits.stream, settings, { metrics, logger, signal }, collections) };
    },
  });
  return { runner, start: start! };
}
