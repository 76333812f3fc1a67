import type { ChangeStreamDocument, Document, Timestamp } from 'mongodb';
import type { ClusterTime, Logger, OutgoingMessage } from '@cdc/core';
import { RecentRate } from './recent-rate.js';
import type { CollectionState } from '../checkpoint/checkpoint.js';
import type { ScopeRouter } from '../source/change-batcher.js';
import { clusterTimeAfter, clusterTimeOf, snapshotCompleteEnvelope } from '../transform/to-envelope.js';
import { eventToMessage } from '../transform/to-message.js';
import { topicFor } from '../transform/routing.js';
import type { CdcMetrics } from '../metrics.js';
import type { CaptureScope } from './capture-scope.js';

export interface ScopeCollectionsSettings {
  snapshotMode: 'never' | 'initial' | 'when_no_offset';
  onStreamEnd: 'stop' | 'reopen';
  droppedRows: 'delete' | 'keep';
  topicTemplate: string;
  instance: string;
  maxMessageBytes: number;
}

const PHASES = ['snapshot', 'streaming', 'stopped', 'dropped'] as const;

/** What the ops endpoint shows of a collection. */
export interface CollectionStatus {
  collection: string;
  phase: CollectionState['phase'];
  topic: string;
  snapshot?: { documents: number; of_estimated: number | null; filter?: string };
  events: number;
  /** when the last change event was read (wall clock), and its cluster time */
  last_event_at: string | null;
  last_event_cluster_time: string | null;
  /** change events read per second over the last minute */
  events_per_second: number;
  /** now minus the cluster time of the last committed checkpoint covering the collection (null before it) */
  resume_point_age_seconds: number | null;
}

/**
 * The collections of a database or deployment scope and what each is doing: snapshotting, streaming, or ended by a
 * drop or rename. The stream's events change it (a collection's first event makes it new: snapshotted when the
 * snapshot mode asks; a drop ends it), but only once the batch holding them is committed: what the batcher notes
 * while reading is applied as that batch's transaction starts (`takeNoted`, then `apply`), so that a checkpoint never
 * records the effect of an event it does not cover. The snapshots' progress is set by the snapshot worker.
 */
export class ScopeCollections implements ScopeRouter {
  private readonly states = new Map<string, CollectionState>();
  /** noted while reading the batch in hand, not yet committed */
  private noted = new Map<string, CollectionState>();
  /** noted in batches handed over for commit whose transaction has not started yet, oldest first */
  private handedOver: Map<string, CollectionState>[] = [];
  private readonly topics = new Set<string>();
  private readonly seen = new Map<string, { events: number; lastEventAt: Date | null; lastClusterTime: number | null; snapshotEstimate: number | null; rate: RecentRate }>();
  /** events read per collection and operation since the metrics were last updated */
  private unreported = new Map<string, number>();
  /** snapshot events of each collection's current snapshot in committed transactions (absent: as its state says) */
  private readonly committedSnapshotEvents = new Map<string, number>();
  /** wakes the snapshot worker */
  onSnapshotDue: () => void = () => undefined;

  constructor(
    /** a collection's own stream (CDC_CAPTURE_SCOPE=collection) captures just that one */
    private readonly scope: Pick<CaptureScope, 'captures'>,
    private readonly settings: ScopeCollectionsSettings,
    /** creates the collections' topics (with their dead-letter topics) that do not exist, in one request */
    private readonly ensureTopics: (topics: string[]) => Promise<void>,
    private readonly metrics: CdcMetrics,
    private readonly logger: Logger,
  ) {}

  /** The state of a new collection: copied first when the snapshot mode asks for snapshots. */
  private get newState(): CollectionState {
    return this.settings.snapshotMode === 'never' ? { phase: 'streaming' } : { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0 };
  }

  topicOfCollection(ns: string): string {
    const dot = ns.indexOf('.');
    return topicFor(this.settings.topicTemplate, ns.slice(0, dot), ns.slice(dot + 1));
  }

  /** The states as a checkpoint records them. */
  snapshot(): Record<string, CollectionState> {
    return Object.fromEntries([...this.states].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** From a checkpoint; collections no longer captured (patterns changed) are left out. */
  async restore(collections: Record<string, CollectionState>): Promise<void> {
    const captured = Object.entries(collections).filter(([ns]) => {
      const dot = ns.indexOf('.');
      return this.scope.captures(ns.slice(0, dot), ns.slice(dot + 1));
    });
    await this.ensureTopicsOf(captured);
    for (const [ns, state] of captured) this.set(ns, state);
  }

  /** The topics of the collections that are live (snapshotting or streaming), made in one request. */
  private ensureTopicsOf(collections: Iterable<[string, CollectionState]>): Promise<void> {
    const live = [...collections].filter(([, state]) => state.phase === 'snapshot' || state.phase === 'streaming');
    return live.length === 0 ? Promise.resolve() : this.ensureTopics([...new Set(live.map(([ns]) => this.topicOfCollection(ns)))]);
  }

  /**
   * Collections found at a start that the checkpoint does not know (all of them at the first start; at a restart,
   * those the patterns now take in, or made while the cdc was down): each new. Returns how many.
   */
  async found(namespaces: string[]): Promise<number> {
    const unknown = namespaces.filter((ns) => !this.states.has(ns)).map((ns): [string, CollectionState] => [ns, this.newState]);
    await this.ensureTopicsOf(unknown);
    for (const [ns, state] of unknown) this.set(ns, state);
    return unknown.length;
  }

  /** Every live collection snapshotted again: the history was lost (the marker has the loader delete what is gone). */
  resnapshotAll(): void {
    for (const [ns, state] of this.states) {
      if (state.phase === 'snapshot' || state.phase === 'streaming') this.set(ns, { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0, replaces_history: true });
    }
  }

  /**
   * An operator's request to copy a collection again while the stream goes on: it starts over (a new start time,
   * from the first _id) unless it is not captured, already snapshotting, or ended by a drop or rename.
   */
  requestResnapshot(ns: string, filter?: string): 'started' | 'unknown' | 'snapshotting' | 'ended' {
    const state = this.states.get(ns);
    if (state === undefined) return 'unknown';
    if (state.phase === 'snapshot') return 'snapshotting';
    if (state.phase !== 'streaming') return 'ended';
    this.set(ns, { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0, ...(filter === undefined ? {} : { filter }) });
    this.committedSnapshotEvents.set(ns, 0);
    this.metrics.collectionResnapshots.inc({ collection: ns });
    this.logger.info({ collection: ns, filter }, 're-snapshot requested');
    return 'started';
  }

  /** As the events read so far leave it (committed or not). */
  private stateOf(ns: string): CollectionState | undefined {
    for (const noted of [this.noted, ...[...this.handedOver].reverse()]) {
      const state = noted.get(ns);
      if (state) return state;
    }
    return this.states.get(ns);
  }

  async topicOf(change: ChangeStreamDocument<Document>): Promise<string | null> {
    const ns = (change as { ns?: { db: string; coll?: string } }).ns;
    if (!ns?.coll || !this.scope.captures(ns.db, ns.coll)) return null;
    const name = `${ns.db}.${ns.coll}`;
    const state = this.stateOf(name);
    if (state?.phase === 'stopped') {
      this.metrics.collectionEventsSkipped.inc({ collection: name });
      return null;
    }
    const topic = this.topicOfCollection(name);
    if (state === undefined || state.phase === 'dropped') {
      await this.ensureTopics([topic]);
      this.noted.set(name, this.newState);
      this.logger.info({ collection: name, phase: this.newState.phase }, 'new collection in the scope');
    }
    this.count(name, change.operationType, 1, clusterTimeOf(change.clusterTime as Timestamp).t);
    return topic;
  }

  /** A collection's own stream: the events of a batch read (counted per batch, as the scope's are per event). */
  streamed(ns: string, ops: Map<string, number>, lastClusterTime: ClusterTime | null): void {
    for (const [op, count] of ops) this.count(ns, op, count, lastClusterTime?.t ?? null);
    this.reportEvents();
  }

  private count(ns: string, op: string, events: number, clusterTime: number | null): void {
    const seen = this.seenOf(ns);
    seen.events += events;
    seen.rate.add(events);
    seen.lastEventAt = new Date();
    if (clusterTime !== null) seen.lastClusterTime = clusterTime;
    // counted here, handed to the metrics once per batch (takeNoted): a labelled metric per event is costly
    const key = `${ns}\u0000${op}`;
    this.unreported.set(key, (this.unreported.get(key) ?? 0) + events);
  }

  /**
   * A drop, or a rename away, ends the collection (CDC_ON_STREAM_END: stopped or dropped) and, with
   * CDC_DROPPED_COLLECTION_ROWS=delete, publishes the marker that has the loader delete its current rows; a rename
   * into the scope makes the target new (its documents came without events: snapshotted when the mode asks).
   */
  collectionEnded(change: ChangeStreamDocument<Document>): { out: OutgoingMessage; bytes: number }[] {
    const out: { out: OutgoingMessage; bytes: number }[] = [];
    const { operationType } = change;
    if (operationType !== 'drop' && operationType !== 'rename') return out;
    const ns = (change as { ns: { db: string; coll: string } }).ns;
    const name = `${ns.db}.${ns.coll}`;
    const state = this.stateOf(name);
    const at = clusterTimeOf(change.clusterTime as Timestamp);
    if (state && state.phase !== 'stopped' && state.phase !== 'dropped') {
      const ended: CollectionState = { phase: this.settings.onStreamEnd === 'stop' ? 'stopped' : 'dropped' };
      this.noted.set(name, ended);
      this.logger.warn({ collection: name, event: operationType, phase: ended.phase, rows: this.settings.droppedRows }, 'collection of the scope ended');
      if (this.settings.droppedRows === 'delete') out.push(this.deleteMarker(ns.db, ns.coll, at));
    }
    const to = (change as { to?: { db: string; coll: string } }).to;
    if (operationType === 'rename' && to && this.scope.captures(to.db, to.coll)) this.noted.set(`${to.db}.${to.coll}`, this.newState);
    return out;
  }

  /**
   * An empty snapshot's completion one step after the drop: the loader deletes every current row of the collection
   * older than it (each recorded in the changes table as a delete at the drop's time); a document of a collection
   * re-created later is newer and stays.
   */
  private deleteMarker(db: string, coll: string, droppedAt: ClusterTime): { out: OutgoingMessage; bytes: number } {
    const encoded = eventToMessage(snapshotCompleteEnvelope(db, coll, clusterTimeAfter(droppedAt), 0, { instance: this.settings.instance }), topicFor(this.settings.topicTemplate, db, coll), this.settings.maxMessageBytes);
    return { out: encoded.out, bytes: encoded.bytes };
  }

  /** What the batcher noted while reading the batch in hand (called as it is handed over for commit). */
  takeNoted(): Map<string, CollectionState> {
    this.reportEvents();
    const noted = this.noted;
    this.noted = new Map();
    this.handedOver.push(noted);
    return noted;
  }

  private reportEvents(): void {
    const touched = new Set<string>();
    for (const [key, count] of this.unreported) {
      const [collection, op] = key.split('\u0000') as [string, string];
      this.metrics.collectionEvents.inc({ collection, op }, count);
      touched.add(collection);
    }
    this.unreported = new Map();
    for (const collection of touched) this.metrics.collectionLastEvent.set({ collection }, this.seen.get(collection)?.lastClusterTime ?? 0);
  }

  /** Applies a committed batch's changes of state. */
  async apply(noted: Map<string, CollectionState>): Promise<void> {
    await this.ensureTopicsOf(noted);
    for (const [ns, state] of noted) this.set(ns, state);
    this.handedOver = this.handedOver.filter((m) => m !== noted);
    if ([...noted.values()].some((s) => s.phase === 'snapshot')) this.onSnapshotDue();
  }

  /** A snapshot's progress (its chunk committed) or its end; ignored once the collection ended meanwhile. */
  snapshotProgress(ns: string, progress: CollectionState): void {
    const current = this.states.get(ns);
    if (current?.phase !== 'snapshot') return;
    // a filtered re-snapshot keeps its filter to its end, so a resume copies the same documents
    this.set(ns, progress.phase === 'snapshot' && current.filter !== undefined ? { ...progress, filter: current.filter } : progress);
  }

  /**
   * A collection's own stream copying the whole collection (its initial snapshot, or after a lost history), whose
   * progress its own checkpoint holds: shown as snapshotting, a re-snapshot refused meanwhile.
   */
  wholeSnapshotCommitted(ns: string, events: number): void {
    this.set(ns, { phase: 'snapshot', snapshot_at: null, last_id: null, events });
    this.snapshotCommitted(ns, events);
  }

  /** A snapshot chunk's transaction committed: what GET /collections and the metric show (the states run ahead of it). */
  snapshotCommitted(ns: string, events: number): void {
    this.committedSnapshotEvents.set(ns, events);
    this.metrics.collectionSnapshotDocuments.set({ collection: ns }, events);
  }

  /** The next collection to snapshot, oldest name first. */
  nextSnapshot(): [string, Extract<CollectionState, { phase: 'snapshot' }>] | null {
    const due = [...this.states].filter(([, s]) => s.phase === 'snapshot').sort(([a], [b]) => a.localeCompare(b))[0];
    return due ? [due[0], due[1] as Extract<CollectionState, { phase: 'snapshot' }>] : null;
  }

  noteSnapshotEstimate(ns: string, estimate: number): void {
    this.seenOf(ns).snapshotEstimate = estimate;
    this.metrics.collectionSnapshotEstimate.set({ collection: ns }, estimate);
  }

  /** Each collection as the ops endpoint and the metrics show it; `resumePoint`: the stream's last committed one. */
  status(resumePoint: ClusterTime | null = null): CollectionStatus[] {
    const age = resumePoint === null ? null : Math.max(0, Math.round(Date.now() / 1000 - resumePoint.t));
    return [...this.states].map(([ns, state]) => {
      const seen = this.seen.get(ns);
      const snapshot = { documents: this.committedSnapshotEvents.get(ns) ?? (state.phase === 'snapshot' ? state.events : 0), of_estimated: seen?.snapshotEstimate ?? null };
      return {
        collection: ns,
        phase: state.phase,
        topic: this.topicOfCollection(ns),
        ...(state.phase === 'snapshot' ? { snapshot: { ...snapshot, ...(state.filter === undefined ? {} : { filter: state.filter }) } } : {}),
        events: seen?.events ?? 0,
        last_event_at: seen?.lastEventAt?.toISOString() ?? null,
        last_event_cluster_time: seen?.lastClusterTime ? new Date(seen.lastClusterTime * 1000).toISOString() : null,
        events_per_second: seen?.rate.perSecond() ?? 0,
        resume_point_age_seconds: state.phase === 'stopped' || state.phase === 'dropped' ? null : age,
      };
    });
  }

  private seenOf(ns: string) {
    let seen = this.seen.get(ns);
    if (!seen) this.seen.set(ns, (seen = { events: 0, lastEventAt: null, lastClusterTime: null, snapshotEstimate: null, rate: new RecentRate() }));
    return seen;
  }

  private set(ns: string, state: CollectionState): void {
    this.states.set(ns, state);
    for (const phase of PHASES) this.metrics.collectionPhase.set({ collection: ns, phase }, phase === state.phase ? 1 : 0);
  }
}
