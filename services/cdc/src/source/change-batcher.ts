import type { ChangeStreamDocument, Document, Timestamp } from 'mongodb';
import type { ClusterTime, OutgoingMessage } from '@cdc/core';
import { changeToEnvelope, clusterTimeOf, resumeTokenData, STREAM_END_TYPES } from '../transform/to-envelope.js';
import { deadLetterMessage, eventToMessage } from '../transform/to-message.js';
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

/** change → envelope → Kafka record, gathered into batches bounded by events, bytes and age. */
export class ChangeBatcher {
  constructor(
    private readonly feed: ChangeFeed,
    private readonly settings: BatcherSettings,
    /** the service's stop: ends the batch being read as soon as the current change is handled */
    private readonly signal: AbortSignal,
  ) {}

  async next(): Promise<ChangeBatch> {
    const { topic, maxMessageBytes, batchMaxWaitMs } = this.settings;
    const buffer = new BatchBuffer<OutgoingMessage>(this.settings.batchMaxEvents, this.settings.batchMaxBytes);
    const batch: ChangeBatch = { messages: [], lastToken: null, positionOnly: false, lastClusterTime: null, ops: [], bytes: 0, deadLetters: [], streamEnds: [], reopenAfter: null, fatal: null };
    const ops = new Map<string, number>();
    let firstAt = 0;
    while (!buffer.full && !this.signal.aborted) {
      if (buffer.length > 0 && Date.now() - firstAt >= batchMaxWaitMs) break;
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
        encoded = eventToMessage(changeToEnvelope(change, { instance: this.settings.instance }), topic, maxMessageBytes);
      } catch (error) {
        encoded = { ok: false, bytes: 1024, out: this.serializeFailure(change, token, error as Error) };
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
}
