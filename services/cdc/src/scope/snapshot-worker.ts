import type { Document, MongoClient } from 'mongodb';
import { fromCanonicalJson, type Logger } from '@cdc/core';
import type { BatchCommitter } from '../phases/committer.js';
import { SnapshotPhase } from '../phases/snapshot-phase.js';
import { currentClusterTime } from '../source/change-source.js';
import { SnapshotSource } from '../source/snapshot-source.js';
import { clusterTimeOf } from '../transform/to-envelope.js';
import type { CdcMetrics } from '../metrics.js';
import type { ScopeCollections } from './scope-collections.js';

export type ResnapshotOutcome = ReturnType<ScopeCollections['requestResnapshot']>;

export interface SnapshotWorkerDeps {
  client: MongoClient;
  collections: ScopeCollections;
  commits: {
    snapshotOf(ns: string): Pick<BatchCommitter, 'commit'>;
    /** the collections' states alone, at the stream's position */
    checkpointStates(): Promise<void>;
  };
  settings: { snapshotBatchSize: number; instance: string; maxMessageBytes: number };
  metrics: CdcMetrics;
  logger: Logger;
  /** the service's stop */
  signal: AbortSignal;
  /** a snapshot failed: the service ends */
  fail(error: unknown): void;
}

/**
 * Snapshots the collections whose state says so, one at a time, beside a stream that goes on: each chunk committed
 * with its progress in the stream's checkpoint (`commits`), its rows stamped with the time read before its first
 * chunk, so every change the stream publishes from then on is newer, whichever reaches Kafka first. Shared by a
 * database or deployment scope (its new collections, re-snapshots) and a collection's own stream (re-snapshots).
 */
export class SnapshotWorker {
  private wake: () => void = () => undefined;
  private running: Promise<void> | null = null;
  private pause = new AbortController();

  constructor(private readonly deps: SnapshotWorkerDeps) {
    deps.collections.onSnapshotDue = () => this.wake();
  }

  /** Starts it unless it runs (from the states restored). */
  start(): void {
    this.running ??= this.run().catch((error: unknown) => this.deps.fail(error));
    this.wake();
  }

  /** Stops it after the chunk in hand (its progress committed; a later start resumes from there). */
  async stop(): Promise<void> {
    this.pause.abort();
    await this.running;
    this.running = null;
    this.pause = new AbortController();
  }

  /** Ends with the service (a failed snapshot has failed it). */
  get done(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  /**
   * A collection copied again (an operator's request; only the documents matching `filter`, canonical Extended JSON,
   * when given): answered once its new state is committed, so a restart resumes it.
   */
  async resnapshot(ns: string, filter?: string): Promise<ResnapshotOutcome> {
    const outcome = this.deps.collections.requestResnapshot(ns, filter);
    if (outcome !== 'started') return outcome;
    await this.deps.commits.checkpointStates();
    this.wake();
    return outcome;
  }

  private async run(): Promise<void> {
    const { collections, commits, client, settings, metrics, logger } = this.deps;
    const signal = AbortSignal.any([this.deps.signal, this.pause.signal]);
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
      const filter = state.filter === undefined ? undefined : fromCanonicalJson<Document>(state.filter);
      collections.noteSnapshotEstimate(ns, filter ? await collection.countDocuments(filter) : await collection.estimatedDocumentCount());
      const phase = new SnapshotPhase({
        committer: commits.snapshotOf(ns),
        openReader: (lastId) => new SnapshotSource(collection, settings.snapshotBatchSize, lastId, filter),
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
