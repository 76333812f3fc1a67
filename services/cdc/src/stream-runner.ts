import type { Collection, Db, Document, MongoClient } from 'mongodb';
import { Timestamp } from 'mongodb';
import { FatalError, type ClusterTime, type Logger } from '@cdc/core';
import { ChangeSource, currentClusterTime, isEventTooLarge, isHistoryLost, type ResumePoint } from './source/change-source.js';
import { ChangeBatcher, type BatcherSettings, type ScopeRouter } from './source/change-batcher.js';
import { SnapshotSource } from './source/snapshot-source.js';
import { clusterTimeOf } from './transform/to-envelope.js';
import { planStart, type SnapshotMode, type SnapshotResume } from './checkpoint/plan.js';
import { resumePointOf, type Checkpoint } from './checkpoint/checkpoint.js';
import type { Publisher } from './sink/transactional-publisher.js';
import { BatchCommitter, streamCheckpoint, type CheckpointLog, type PendingBatch } from './phases/committer.js';
import { SnapshotPhase } from './phases/snapshot-phase.js';
import { StreamingPhase } from './phases/streaming-phase.js';
import type { CdcMetrics } from './metrics.js';
import { ScopeCommits, type StreamPosition } from './scope/scope-commits.js';
import type { ScopeCollections } from './scope/scope-collections.js';
import { SnapshotWorker, type ResnapshotOutcome } from './scope/snapshot-worker.js';

export interface StreamSettings extends BatcherSettings {
  /** $match stages restricting this stream to its share of documents (hash mode) */
  pipeline: Document[];
  snapshotMode: SnapshotMode;
  snapshotBatchSize: number;
  onHistoryLost: 'fail' | 'resnapshot';
  fullDocumentBeforeChange: 'off' | 'whenAvailable' | 'required';
  /** CDC_SPLIT_LARGE_EVENTS */
  splitLargeEvents: boolean;
  heartbeatIntervalMs: number;
}

const toTimestamp = (ct: ClusterTime) => new Timestamp({ t: ct.t, i: ct.i });

/** What a stream runs through, built around the service's stop signal (fakes in unit tests). */
export interface StreamUnits {
  committer: BatchCommitter;
  /** absent for a capture scope, whose collections are snapshotted beside the stream */
  snapshot?: Pick<SnapshotPhase, 'run'>;
  streaming: Pick<StreamingPhase, 'run'>;
}

export interface StreamRunnerDeps {
  settings: Pick<StreamSettings, 'streamId' | 'snapshotMode' | 'onHistoryLost' | 'splitLargeEvents' | 'fullDocumentBeforeChange'>;
  checkpoints: CheckpointLog;
  /** MongoDB's cluster time now */
  clusterTimeNow(): Promise<Timestamp>;
  units(signal: AbortSignal): StreamUnits;
  /** the service's stop: the stream commits the batch in hand and ends */
  signal: AbortSignal;
  logger: Logger;
  /** a database or deployment scope's own start, and its answer to a lost history (default: one collection's) */
  scope?: {
    start(checkpoint: Checkpoint | null): Promise<ResumePoint>;
    resnapshot(): Promise<ResumePoint>;
  };
  /** one collection's re-snapshots on demand, beside its stream (absent for a scope, which has its own) */
  onDemand?: {
    /** the stream goes on from `from`: the re-snapshot recorded in `checkpoint` (if any) resumes */
    streaming(from: ResumePoint, checkpoint: Checkpoint | null): Promise<void>;
    /** a whole-collection snapshot (lost history) takes over: the re-snapshot in hand stops after its chunk */
    stop(): Promise<void>;
  };
}

/**
 * One stream: reads its checkpoint, plans the start, then runs the snapshot phase and/or the streaming phase
 * (separate units, see phases/), re-snapshotting when the resume point fell out of the oplog and that is allowed.
 */
export class StreamRunner {
  private readonly units: StreamUnits;

  constructor(private readonly deps: StreamRunnerDeps) {
    this.units = deps.units(deps.signal);
  }

  get streamId(): string {
    return this.deps.settings.streamId;
  }

  /** Cluster time a restart of this stream would resume from (null before its first checkpoint, or unknown). */
  get resumePoint(): ClusterTime | null {
    return this.units.committer.resumePoint;
  }

  async run(): Promise<void> {
    const { settings, logger } = this.deps;
    const { committer } = this.units;
    const checkpoint = await this.deps.checkpoints.load();
    if (checkpoint) committer.resumePoint = resumePointOf(checkpoint);
    let from = this.deps.scope ? await this.deps.scope.start(checkpoint) : await this.start(checkpoint);
    await this.deps.onDemand?.streaming(from, checkpoint);
    while (!this.deps.signal.aborted) {
      try {
        from = await this.units.streaming.run(from);
      } catch (error) {
        if (isEventTooLarge(error)) {
          // Resuming reads the same event again: stop with what to do instead of restarting into it for ever.
          throw new FatalError(
            `stream ${settings.streamId}: MongoDB refused to return a change event larger than 16 MiB ` +
              `(BSONObjectTooLarge: ${(error as Error).message}), so the stream cannot read past it. ` +
              (settings.splitLargeEvents
                ? `Even split ($changeStreamSplitLargeEvent), one of its fields is over 16 MiB. `
                : `Set CDC_SPLIT_LARGE_EVENTS=true (MongoDB 7.0 or 6.0.9 and later) to have such events split and joined again. `) +
              (settings.fullDocumentBeforeChange !== 'off'
                ? `Restarting with CDC_FULL_DOCUMENT_BEFORE_CHANGE=off leaves the pre-image out of the event, which may bring it under the limit.`
                : `See the README, known limitations.`),
            { reason: 'event-too-large' },
          );
        }
        if (!isHistoryLost(error)) throw error;
        // The only way on is a fresh snapshot of the whole collection: the operator has to ask for it.
        if (settings.onHistoryLost !== 'resnapshot') {
          throw new FatalError(
            `stream ${settings.streamId}: the saved resume point is no longer in the MongoDB oplog (ChangeStreamHistoryLost), ` +
              `so changes since the last checkpoint cannot be read. To recover, restart with CDC_ON_HISTORY_LOST=resnapshot ` +
              `(re-reads the collection as snapshot events; existing documents converge downstream, duplicates share event ids, ` +
              `documents deleted meanwhile are deleted from the current-state table once the snapshot is loaded), ` +
              `and enlarge the oplog (replSetResizeOplog) so the CDC service's downtime fits in it.`,
            { reason: 'history-lost' },
          );
        }
        logger.warn({ streamId: settings.streamId }, 'resume point lost from the oplog: taking a new snapshot');
        if (this.deps.scope) from = await this.deps.scope.resnapshot();
        else {
          await this.deps.onDemand?.stop();
          from = await this.snapshot(null, true);
          await this.deps.onDemand?.streaming(from, null);
        }
      }
    }
  }

  /** One collection: its snapshot first when the plan says so, else the stream from its checkpoint (or now). */
  private async start(checkpoint: Checkpoint | null): Promise<ResumePoint> {
    const plan = planStart(checkpoint, this.deps.settings.snapshotMode);
    if (plan.action === 'snapshot') return this.snapshot(plan.resumeFrom);
    if (plan.from.kind === 'now') return this.startNow();
    return plan.from.kind === 'time' ? { kind: 'time', at: toTimestamp(plan.from.at) } : plan.from;
  }

  /** Records the start point before reading, so a crash before the first event loses nothing. */
  private async startNow(): Promise<ResumePoint> {
    const at = await this.deps.clusterTimeNow();
    await this.units.committer.commit({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(null, clusterTimeOf(at)) });
    return { kind: 'time', at };
  }

  private async snapshot(resumeFrom: SnapshotResume | null, replacesHistory = false): Promise<ResumePoint> {
    return { kind: 'time', at: toTimestamp(await this.units.snapshot!.run(resumeFrom, replacesHistory)) };
  }
}

/**
 * A stream runner over its MongoDB collection and its publisher. Its transactions go one at a time through the
 * scope's commit queue (ScopeCommits, with `collections` holding just this collection), so a re-snapshot asked for
 * on the ops port runs beside the stream exactly as a scope collection's does, its progress in the stream's checkpoint.
 */
export function createStreamRunner(
  client: MongoClient,
  publisher: Publisher,
  checkpoints: CheckpointLog,
  settings: StreamSettings,
  collections: ScopeCollections,
  context: { metrics: CdcMetrics; logger: Logger; signal: AbortSignal; fail(error: unknown): void },
): { runner: StreamRunner; resnapshot(ns: string, filter?: string): Promise<ResnapshotOutcome>; resnapshotsDone(): Promise<void> } {
  const { metrics, logger, signal } = context;
  const collection = () => client.db(settings.db).collection(settings.coll);
  const ns = `${settings.db}.${settings.coll}`;
  let worker: SnapshotWorker | undefined;
  let commits: ScopeCommits | undefined;
  const runner = new StreamRunner({
    settings,
    checkpoints,
    clusterTimeNow: () => currentClusterTime(client),
    logger,
    signal,
    onDemand: {
      streaming: async (from, checkpoint) => {
        commits!.restore(positionOf(from));
        const recorded = checkpoint?.phase === 'stream' ? checkpoint.collections?.[ns] : undefined;
        await collections.restore({ [ns]: recorded ?? { phase: 'streaming' } });
        worker!.start();
      },
      stop: () => worker!.stop(),
    },
    units: (signal) => {
      const committer = new BatchCommitter(settings.streamId, publisher, checkpoints, metrics, signal);
      commits = new ScopeCommits(committer, collections);
      worker = new SnapshotWorker({ client, collections, commits, settings, metrics, logger, signal, fail: context.fail });
      const whole = new SnapshotPhase({
        committer: {
          commit: async (batch) => {
            await committer.commit(batch);
            if (batch.checkpoint.phase === 'snapshot') collections.wholeSnapshotCommitted(ns, batch.checkpoint.events ?? 0);
          },
        },
        openReader: (lastId) => new SnapshotSource(collection(), settings.snapshotBatchSize, lastId),
        clusterTimeNow: async () => clusterTimeOf(await currentClusterTime(client)),
        metrics,
        logger,
        settings,
        signal,
      });
      const snapshot = {
        run: async (resumeFrom: SnapshotResume | null, replacesHistory: boolean) => {
          collections.wholeSnapshotCommitted(ns, resumeFrom?.events ?? 0);
          collections.noteSnapshotEstimate(ns, await collection().estimatedDocumentCount());
          return whole.run(resumeFrom, replacesHistory);
        },
      };
      const streamCommits = {
        commit: (batch: PendingBatch) => {
          collections.streamed(ns, batch.ops, batch.lastClusterTime);
          return commits!.stream.commit(batch);
        },
      };
      return { committer, snapshot, streaming: streamingPhaseOf(collection, streamCommits, settings, { metrics, logger, signal }) };
    },
  });
  return { runner, resnapshot: (name, filter) => worker!.resnapshot(name, filter), resnapshotsDone: () => worker!.done };
}

/** The stream's position a checkpoint records for a point to resume from. */
function positionOf(from: ResumePoint): StreamPosition {
  if (from.kind === 'now') return { resume_token: null, start_at: null };
  if (from.kind === 'time') return { resume_token: null, start_at: clusterTimeOf(from.at) };
  return { resume_token: from.token, start_at: null, ...(from.kind === 'after-end' ? { start_after: true } : {}) };
}

/**
 * The streaming phase of a change stream on `watched` (a collection; a database or the deployment for a capture
 * scope, whose events `scope` routes), committing through `committer`.
 */
export function streamingPhaseOf(
  watched: () => Collection | Db | MongoClient,
  committer: Pick<BatchCommitter, 'commit'>,
  settings: StreamSettings,
  context: { metrics: CdcMetrics; logger: Logger; signal: AbortSignal },
  scope?: ScopeRouter,
): StreamingPhase {
  const { signal } = context;
  return new StreamingPhase({
    committer,
    open: (from) => {
      const source = new ChangeSource(watched(), {
        fullDocumentBeforeChange: settings.fullDocumentBeforeChange,
        pipeline: settings.pipeline,
        maxAwaitTimeMs: Math.min(settings.batchMaxWaitMs, 1000),
        batchSize: Math.min(settings.batchMaxEvents, 1000),
        splitLargeEvents: settings.splitLargeEvents,
      });
      source.open(from);
      const batcher = new ChangeBatcher(source, settings, signal, scope);
      return { next: () => batcher.next(), close: () => source.close() };
    },
    metrics: context.metrics,
    logger: context.logger,
    streamId: settings.streamId,
    heartbeatIntervalMs: settings.heartbeatIntervalMs,
    signal,
  });
}
