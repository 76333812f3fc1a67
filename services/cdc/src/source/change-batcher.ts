import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { ChangeStreamDocument, Document, Timestamp } from 'mongodb';
import type { ClusterTime, OutgoingMessage } from '@cdc/core';
import { changeToRecord, clusterTimeOf, resumeTokenData, STREAM_END_TYPES } from '../transform/to-envelope.js';
import { deadLetterMessage, recordToMessage } from '../transform/to-message.js';
import { BatchBuffer } from '../transform/batch.js';
import { StreamPosition } from './change-source.js';

export interface BatcherSettings {
  streamId: string;
  db: string;
  coll: string;
  topic: string;
  instance: string;
  onStreamEnd: 'stop' | 'reopen';
  batchMaxEvents: number;
  batchMaxBytes: number;
  batchMaxWaitMs: number;
  maxMessageBytes: number;
}

/** One batch of encoded changes and what was seen while reading it: the caller logs, counts and publishes it. */
export interface ChangeBatch {
  messages: OutgoingMessage[];
  /** resume token of the last change read, or the stream's position after it; null when neither was read */
  lastToken: string | null;
  /** no change was read: lastToken is only the stream's position (a heartbeat checkpoint, when one is due) */
  positionOnly: boolean;
  lastClusterTime: ClusterTime | null;
  ops: [op: string, count: number][];
  bytes: number;
  deadLetters: { reason: string; resume_token: string }[];
  streamEnds: { type: string; resume_token: string }[];
  /** an invalidate ended the stream: reopen after its token (CDC_ON_STREAM_END=reopen) */
  reopenAfter: string | null;
  /** a drop/rename/invalidate with CDC_ON_STREAM_END=stop: publish the batch, then stop with this message */
  fatal: string | null;
}

interface ChangeFeed {
  tryNext(): Promise<ChangeStreamDocument<Document> | StreamPosition | null>;
  /** what was read already, without waiting (null: nothing, call tryNext) */
  takeBuffered?(): ChangeStreamDocument<Document> | StreamPosition | null;
}

/**
 * Where a database or deployment scope's events go: each document change to its collection's topic, or skipped
 * (a collection not captured); drops and renames end one collection, not the stream (records to publish with them).
 */
export interface ScopeRouter {
  topicOf(change: ChangeStreamDocument<Document>): Promise<string | null>;
  collectionEnded(change: ChangeStreamDocument<Document>): { out: OutgoingMessage; bytes: number }[];
}

/**
 * Changes encoded between two turns of the event loop. Encoding a batch is a few tens of milliseconds of CPU; without
 * a turn, the change source's next getMore is neither sent nor taken in until the batch is done, and the database's
 * work and ours run one after the other instead of side by side.
 */
const CHANGES_PER_TURN = 100;

/** change → envelope → Kafka record, gathered into batches bounded by events, bytes and age. */
export class ChangeBatcher {
  constructor(
    private readonly feed: ChangeFeed,
    private readonly settings: BatcherSettings,
    /** the service's stop: ends the batch being read as soon as the current change is handled */
    private readonly signal: AbortSignal,
    /** a database or deployment scope (CDC_CAPTURE_SCOPE); absent: one collection, settings.topic */
    private readonly scope?: ScopeRouter,
  ) {}

  async next(): Promise<ChangeBatch> {
    const { maxMessageBytes, batchMaxWaitMs } = this.settings;
    const buffer = new BatchBuffer<OutgoingMessage>(this.settings.batchMaxEvents, this.settings.batchMaxBytes);
    const batch: ChangeBatch = { messages: [], lastToken: null, positionOnly: false, lastClusterTime: null, ops: [], bytes: 0, deadLetters: [], streamEnds: [], reopenAfter: null, fatal: null };
    const ops = new Map<string, number>();
    let firstAt = 0;
    let sinceTurn = 0;
    while (!buffer.full && !this.signal.aborted) {
      if (buffer.length > 0 && Date.now() - firstAt >= batchMaxWaitMs) break;
      if (++sinceTurn === CHANGES_PER_TURN) {
        sinceTurn = 0;
        await yieldToEventLoop();
      }
      const change = this.feed.takeBuffered?.() ?? (await this.feed.tryNext());
      if (!change) continue;
      if (change instanceof StreamPosition) {
        batch.lastToken = change.token;
        // A quiet stream hands its position over at once; the caller decides whether a heartbeat is due.
        if (buffer.length === 0) {
          batch.positionOnly = true;
          break;
        }
        continue;
      }
      if (buffer.length === 0) firstAt = Date.now();
      const token = resumeTokenData(change._id);
      if (this.scope && change.operationType !== 'invalidate' && STREAM_END_TYPES.has(change.operationType)) {
        batch.streamEnds.push({ type: change.operationType, resume_token: token });
        batch.lastToken = token;
        for (const marker of this.scope.collectionEnded(change)) buffer.add(marker.out, marker.bytes);
        continue;
      }
      const topic = this.scope ? await this.scope.topicOf(change) : this.settings.topic;
      if (topic === null) {
        // not captured: the stream's position still moves past it
        batch.lastToken = token;
        continue;
      }
      if (STREAM_END_TYPES.has(change.operationType)) {
        batch.streamEnds.push({ type: change.operationType, resume_token: token });
        if (this.settings.onStreamEnd === 'stop') {
          // The end event itself is not checkpointed: a restart sees it again and stops again until an operator acts.
          batch.fatal =
            `stream ${this.settings.streamId}: the collection saw '${change.operationType}', which ends its change stream. ` +
            `Stopping as configured (CDC_ON_STREAM_END=stop). To continue after it, restart with CDC_ON_STREAM_END=reopen.`;
          break;
        }
        // drop / rename are followed by the invalidate that ends the stream
        if (change.operationType !== 'invalidate') continue;
        batch.lastToken = token;
        batch.reopenAfter = token;
        break;
      }
      batch.lastToken = token;
      batch.lastClusterTime = clusterTimeOf(change.clusterTime as Timestamp);
      let encoded: { ok: boolean; out: OutgoingMessage; bytes: number };
      try {
        const record = changeToRecord(change, { instance: this.settings.instance });
        encoded = recordToMessage(record.event, record.value, topic, maxMessageBytes);
      } catch (error) {
        encoded = { ok: false, bytes: 1024, out: this.serializeFailure(change, token, topic, error as Error) };
      }
      if (!encoded.ok) batch.deadLetters.push({ reason: encoded.out.message.headers?.reason?.toString() ?? 'unknown', resume_token: token });
      buffer.add(encoded.out, encoded.bytes);
      ops.set(change.operationType, (ops.get(change.operationType) ?? 0) + 1);
    }
    batch.bytes = buffer.bytes;
    batch.messages = buffer.take();
    batch.ops = [...ops];
    return batch;
  }

  private serializeFailure(change: ChangeStreamDocument<Document>, token: string, topic: string, error: Error): OutgoingMessage {
    let documentId: string | null = null;
    try {
      documentId = JSON.stringify((change as { documentKey?: unknown }).documentKey ?? null);
    } catch {
      documentId = null;
    }
    const ns = (change as { ns?: { db?: string; coll?: string } }).ns;
    return deadLetterMessage(topic, {
      reason: 'serialize_failed',
      error: error.message,
      db: ns?.db ?? this.settings.db,
      coll: ns?.coll ?? this.settings.coll,
      op: change.operationType,
      document_id: documentId,
      resume_token: token,
      event_id: null,
      size_bytes: null,
    });
  }
}
