import { Timestamp, type MongoClient } from 'mongodb';
import { FatalError, type Logger } from '@cdc/core';
import { BatchCommitter, type CheckpointLog } from '../phases/committer.js';
import type { Publisher } from '../sink/transactional-publisher.js';
import { StreamRunner, streamingPhaseOf, type StreamSettings } from '../stream-runner.js';
import type { Checkpoint } from '../checkpoint/checkpoint.js';
import type { ResumePoint } from '../source/change-source.js';
import { currentClusterTime } from '../source/change-source.js';
import { clusterTimeAfter, clusterTimeOf } from '../transform/to-envelope.js';
import type { CdcMetrics } from '../metrics.js';
import type { ScopeCollections } from './scope-collections.js';
import type { CaptureScope } from './capture-scope.js';
import { SnapshotWorker, type ResnapshotOutcome } from './snapshot-worker.js';
import { ScopeCommits, type StreamPosition } from './scope-commits.js';

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
  private readonly worker: SnapshotWorker;

  constructor(private readonly deps: ScopeStartDeps) {
    this.worker = new SnapshotWorker(deps);
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
    this.worker.start();
    return from;
  }

  /** Every collection snapshotted again, the stream from now (CDC_ON_HISTORY_LOST=resnapshot). */
  async resnapshot(): Promise<ResumePoint> {
    const at = await this.justAfterNow();
    this.deps.collections.resnapshotAll();
    await this.deps.commits.checkpointNow({ resume_token: null, start_at: clusterTimeOf(at) });
    this.worker.start();
    return { kind: 'time', at };
  }

  /** A collection copied again beside the stream (an operator's request), see SnapshotWorker. */
  resnapshotOne(ns: string, filter?: string): Promise<ResnapshotOutcome> {
    return this.worker.resnapshot(ns, filter);
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
    return this.worker.done;
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
