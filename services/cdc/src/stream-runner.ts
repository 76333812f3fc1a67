import type { ChangeStreamDocument, Document, MongoClient } from 'mongodb';
import { Timestamp } from 'mongodb';
import type { ClusterTime, Logger } from '@cdc/core';
import { ChangeSource, currentClusterTime, isHistoryLost, type ResumePoint } from './source/change-source.js';
import { SnapshotSource } from './source/snapshot-source.js';
import { changeToEnvelope, clusterTimeOf, resumeTokenData, snapshotToEnvelope, STREAM_END_TYPES } from './transform/to-envelope.js';
import { deadLetterMessage, eventToMessage } from './transform/to-message.js';
import { BatchBuffer } from './transform/batch.js';
import { sameCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
import { planStart, shouldResnapshotOnHistoryLost, type SnapshotMode } from './checkpoint/plan.js';
import type { CheckpointStore } from './checkpoint/checkpoint-store.js';
import type { OutgoingMessage, TransactionalPublisher } from './sink/transactional-publisher.js';
import type { CdcMetrics } from './metrics.js';

export interface StreamSettings {
  streamId: string;
  db: string;
  coll: string;
  topic: string;
  instance: string;
  /** $match stages restricting this stream to its share of documents (hash mode) */
  pipeline: Document[];
  snapshotMode: SnapshotMode;
  snapshotBatchSize: number;
  onHistoryLost: 'fail' | 'resnapshot';
  onStreamEnd: 'stop' | 'reopen';
  fullDocumentBeforeChange: 'off' | 'whenAvailable' | 'required';
  batchMaxEvents: number;
  batchMaxBytes: number;
  batchMaxWaitMs: number;
  maxMessageBytes: number;
  checkpointTopic: string;
}

/** Ends the service with a message for the operator rather than a stack trace. */
export class FatalStreamError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'FatalStreamError';
  }
}

interface PendingBatch {
  messages: OutgoingMessage[];
  checkpoint: Checkpoint;
  ops: Map<string, number>;
  lastClusterTime: ClusterTime | null;
}

const toTimestamp = (ct: ClusterTime) => new Timestamp({ t: ct.t, i: ct.i });

/** source (snapshot, then change stream) → envelope → Kafka transaction with checkpoint, for one stream. */
export class StreamRunner {
  private stopping = false;
  phase: 'starting' | 'snapshot' | 'streaming' | 'stopped' = 'starting';

  constructor(
    private readonly client: MongoClient,
    private readonly publisher: TransactionalPublisher,
    private readonly store: CheckpointStore,
    private readonly settings: StreamSettings,
    private readonly metrics: CdcMetrics,
    private readonly logger: Logger,
  ) {}

  stop(): void {
    this.stopping = true;
  }

  async run(): Promise<void> {
    const checkpoint = await this.store.load(this.settings.streamId, this.publisher);
    const plan = planStart(checkpoint, this.settings.snapshotMode);
    let from: ResumePoint;
    if (plan.action === 'snapshot') {
      from = await this.snapshot(plan.resumeFrom);
    } else if (plan.from.kind === 'now') {
      // Record the start point before reading, so a crash before the first event loses nothing.
      from = await this.checkpointNow();
    } else {
      from = plan.from.kind === 'time' ? { kind: 'time', at: toTimestamp(plan.from.at) } : plan.from;
    }
    while (!this.stopping) {
      try {
        from = await this.stream(from);
      } catch (error) {
        if (!isHistoryLost(error)) throw error;
        if (!shouldResnapshotOnHistoryLost(this.settings.snapshotMode, this.settings.onHistoryLost)) {
          throw new FatalStreamError(
            `stream ${this.settings.streamId}: the saved resume point is no longer in the MongoDB oplog (ChangeStreamHistoryLost), ` +
              `so changes since the last checkpoint cannot be read. To recover, restart with CDC_ON_HISTORY_LOST=resnapshot ` +
              `(re-reads the collection as snapshot events; downstream tables converge, duplicates share event ids), ` +
              `and enlarge the oplog (replSetResizeOplog) so the CDC service's downtime fits in it.`,
          );
        }
        this.logger.warn({ streamId: this.settings.streamId }, 'resume point lost from the oplog: taking a new snapshot');
        from = await this.snapshot(null);
      }
    }
    this.phase = 'stopped';
  }

  private async checkpointNow(): Promise<ResumePoint> {
    const at = await currentClusterTime(this.client);
    await this.commit({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: this.streamCheckpoint(null, clusterTimeOf(at)) });
    return { kind: 'time', at };
  }

  private streamCheckpoint(token: string | null, startAt: ClusterTime | null, startAfter = false): Checkpoint {
    return { version: 1, phase: 'stream', resume_token: token, start_at: startAt, ...(startAfter ? { start_after: true } : {}), updated_at: new Date().toISOString() };
  }

  private async snapshot(resumeFrom: { snapshotAt: ClusterTime; lastId: string | null } | null): Promise<ResumePoint> {
    this.phase = 'snapshot';
    const { db, coll, streamId } = this.settings;
    // The cluster time is taken before the scan: streaming from it replays every change made during the scan.
    const snapshotAt = resumeFrom?.snapshotAt ?? clusterTimeOf(await currentClusterTime(this.client));
    const source = new SnapshotSource(this.client.db(db).collection(coll), this.settings.snapshotBatchSize, resumeFrom?.lastId ?? null);
    this.logger.info({ streamId, snapshotAt, resumingAfter: resumeFrom?.lastId ?? null }, 'snapshot started');
    let total = 0;
    for (;;) {
      if (this.stopping) throw new FatalStreamError('stopped during snapshot; it resumes from its last checkpoint', 0);
      const docs = await source.nextBatch();
      if (docs.length === 0) break;
      const messages: OutgoingMessage[] = [];
      for (const doc of docs) {
        const event = snapshotToEnvelope(db, coll, doc, snapshotAt, { instance: this.settings.instance });
        const encoded = eventToMessage(event, this.settings.topic, this.settings.maxMessageBytes);
        if (!encoded.ok) this.metrics.deadLetters.inc({ stream: streamId, reason: 'oversize' });
        messages.push(encoded.out);
      }
      await this.commit({
        messages,
        ops: new Map([['snapshot', docs.length]]),
        lastClusterTime: snapshotAt,
        checkpoint: { version: 1, phase: 'snapshot', snapshot_at: snapshotAt, last_id: source.lastIdJson, updated_at: new Date().toISOString() },
      });
      total += docs.length;
      this.metrics.snapshotDocuments.inc({ stream: streamId }, docs.length);
    }
    await this.commit({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: this.streamCheckpoint(null, snapshotAt) });
    this.logger.info({ streamId, documents: total }, 'snapshot complete, streaming from its start time');
    return { kind: 'time', at: toTimestamp(snapshotAt) };
  }

  /** Streams until stopped; returns where to reopen after a drop/rename/invalidate when configured to. */
  private async stream(from: ResumePoint): Promise<ResumePoint> {
    this.phase = 'streaming';
    const { streamId } = this.settings;
    const source = new ChangeSource(this.client.db(this.settings.db).collection(this.settings.coll), {
      fullDocumentBeforeChange: this.settings.fullDocumentBeforeChange,
      pipeline: this.settings.pipeline,
      maxAwaitTimeMs: Math.min(this.settings.batchMaxWaitMs, 1000),
      batchSize: Math.min(this.settings.batchMaxEvents, 1000),
    });
    source.open(from);
    this.logger.info({ streamId, from: from.kind }, 'change stream opened');
    let inFlight: Promise<void> = Promise.resolve();
    try {
      for (;;) {
        const { batch, end, fatal } = await this.readBatch(source);
        // One transaction in flight while the next batch is read: bounded memory, and Kafka's pace sets ours.
        await inFlight;
        if (batch) inFlight = this.commit(batch);
        if (fatal) {
          // The changes read before the end event are published (and checkpointed) before stopping.
          await inFlight;
          throw fatal;
        }
        if (end) {
          await inFlight;
          return end;
        }
        if (this.stopping) {
          await inFlight;
          return from;
        }
      }
    } finally {
      await inFlight.catch(() => undefined);
      await source.close();
    }
  }

  private async readBatch(source: ChangeSource): Promise<{ batch: PendingBatch | null; end: ResumePoint | null; fatal?: FatalStreamError }> {
    const { streamId, topic } = this.settings;
    const buffer = new BatchBuffer<OutgoingMessage>(this.settings.batchMaxEvents, this.settings.batchMaxBytes);
    const ops = new Map<string, number>();
    let lastToken: string | null = null;
    let lastClusterTime: ClusterTime | null = null;
    let firstAt = 0;
    let end: ResumePoint | null = null;
    let fatal: FatalStreamError | undefined;
    while (!buffer.full && !this.stopping) {
      if (buffer.length > 0 && Date.now() - firstAt >= this.settings.batchMaxWaitMs) break;
      const change = await source.tryNext();
      if (!change) continue;
      if (buffer.length === 0) firstAt = Date.now();
      const token = resumeTokenData(change._id);
      if (STREAM_END_TYPES.has(change.operationType)) {
        this.metrics.streamEnds.inc({ stream: streamId, type: change.operationType });
        try {
          end = this.onStreamEnd(change, token);
        } catch (error) {
          if (!(error instanceof FatalStreamError)) throw error;
          fatal = error;
          break;
        }
        if (end === null) continue;
        lastToken = token;
        break;
      }
      lastToken = token;
      lastClusterTime = clusterTimeOf(change.clusterTime as Timestamp);
      let encoded: { ok: boolean; out: OutgoingMessage; bytes: number };
      try {
        encoded = eventToMessage(changeToEnvelope(change, { instance: this.settings.instance }), topic, this.settings.maxMessageBytes);
      } catch (error) {
        encoded = { ok: false, bytes: 1024, out: this.serializeFailure(change, token, error as Error) };
      }
      if (!encoded.ok) {
        this.metrics.deadLetters.inc({ stream: streamId, reason: encoded.out.message.headers?.reason?.toString() ?? 'unknown' });
        this.logger.warn({ streamId, resume_token: token, reason: encoded.out.message.headers?.reason?.toString() }, 'event sent to dead-letter topic');
      }
      buffer.add(encoded.out, encoded.bytes);
      ops.set(change.operationType, (ops.get(change.operationType) ?? 0) + 1);
    }
    // Counted per batch, not per event: label lookups per change were a measurable share of the CPU.
    for (const [op, count] of ops) this.metrics.eventsRead.inc({ stream: streamId, op }, count);
    this.metrics.batchBytes.set({ stream: streamId }, buffer.bytes);
    if (lastToken === null) return { batch: null, end, fatal };
    const checkpoint = this.streamCheckpoint(lastToken, null, end?.kind === 'after-end');
    return { batch: { messages: buffer.take(), checkpoint, ops, lastClusterTime }, end, fatal };
  }

  /** drop / rename / invalidate: null = keep reading (the invalidate that follows ends the stream). */
  private onStreamEnd(change: ChangeStreamDocument<Document>, token: string): ResumePoint | null {
    const { streamId } = this.settings;
    this.logger.warn({ streamId, type: change.operationType, resume_token: token }, 'change stream end event');
    if (this.settings.onStreamEnd === 'stop') {
      // The end event itself is not checkpointed: a restart sees it again and stops again until an operator acts.
      throw new FatalStreamError(
        `stream ${streamId}: the collection saw '${change.operationType}', which ends its change stream. ` +
          `Stopping as configured (CDC_ON_STREAM_END=stop). To continue after it, restart with CDC_ON_STREAM_END=reopen.`,
        3,
      );
    }
    return change.operationType === 'invalidate' ? { kind: 'after-end', token } : null;
  }

  private serializeFailure(change: ChangeStreamDocument<Document>, token: string, error: Error): OutgoingMessage {
    let documentId: string | null = null;
    try {
      documentId = JSON.stringify((change as { documentKey?: unknown }).documentKey ?? null);
    } catch {
      documentId = null;
    }
    return deadLetterMessage(this.settings.topic, {
      reason: 'serialize_failed',
      error: error.message,
      db: this.settings.db,
      coll: this.settings.coll,
      op: change.operationType,
      document_id: documentId,
      resume_token: token,
      event_id: null,
      size_bytes: null,
    });
  }

  private async commit(batch: PendingBatch): Promise<void> {
    const { streamId } = this.settings;
    const messages = [...batch.messages, this.store.message(streamId, batch.checkpoint)];
    await this.publisher.publish(messages, {
      shouldStop: () => this.stopping,
      // The checkpoint carries its own timestamp: finding it as the latest one means this very transaction committed.
      committedAlready: async () => sameCheckpoint(await this.store.load(streamId, this.publisher), batch.checkpoint),
    });
    this.metrics.transactions.inc({ stream: streamId });
    for (const [op, count] of batch.ops) this.metrics.eventsPublished.inc({ stream: streamId, op }, count);
    this.metrics.lastCheckpoint.set({ stream: streamId }, Date.now() / 1000);
    if (batch.lastClusterTime) this.metrics.lastEventClusterTime.set({ stream: streamId }, batch.lastClusterTime.t);
  }
}
