import type { ChangeStream, ChangeStreamDocument, ChangeStreamOptions, Collection, Db, Document, MongoClient, Timestamp } from 'mongodb';
import { MongoServerError } from 'mongodb';
import { decodeRawChange } from './raw-change.js';

export type ResumePoint =
  | { kind: 'token'; token: string }
  | { kind: 'time'; at: Timestamp }
  | { kind: 'after-end'; token: string }
  | { kind: 'now' };

export interface ChangeSourceSettings {
  fullDocumentBeforeChange: 'off' | 'whenAvailable' | 'required';
  /** extra $match stages (hash partitioning of one collection across instances) */
  pipeline: Document[];
  maxAwaitTimeMs: number;
  /** changes per getMore; twice this many are read ahead of the consumer */
  batchSize: number;
  /** end the pipeline with $changeStreamSplitLargeEvent and join the fragments of events over 16 MiB */
  splitLargeEvents?: boolean;
}

// Change stream failures are told apart by the server's error code (or its name), never by the wording of the
// message, which is no part of the server's contract. Errors the driver can resume from
// (label ResumableChangeStreamError: a primary stepping down, a lost connection) it resumes by itself; what reaches
// the stream runner beyond the two below ends the service, for its supervisor to restart it.

/** ChangeStreamHistoryLost (286): the resume point has rolled off the oplog. */
export function isHistoryLost(error: unknown): boolean {
  return error instanceof MongoServerError && (error.code === 286 || error.codeName === 'ChangeStreamHistoryLost');
}

/**
 * BSONObjectTooLarge (10334): MongoDB cannot return a change event over 16 MiB of BSON (a big document with its
 * pre-image or a large update description) without $changeStreamSplitLargeEvent (CDC_SPLIT_LARGE_EVENTS=false, or
 * one field alone over 16 MiB).
 */
export function isEventTooLarge(error: unknown): boolean {
  return error instanceof MongoServerError && (error.code === 10334 || error.codeName === 'BSONObjectTooLarge');
}

type Change = ChangeStreamDocument<Document>;

/**
 * Where the change stream stands after an empty getMore: its postBatchResumeToken. Every change before it has been
 * handed out, so a checkpoint of this token loses nothing; on a quiet collection it still moves with the oplog.
 */
export class StreamPosition {
  constructor(readonly token: string) {}
}

/**
 * One change stream (on one collection, or a capture scope's database or deployment), read ahead by at most two getMore batches: the next getMore runs on the
 * server while the previous batch is encoded and published. When the consumer stops taking (a slow sink), the
 * read-ahead stops too (backpressure), so memory stays bounded.
 */
export class ChangeSource {
  private stream: ChangeStream<Document, Change> | null = null;
  private queue: (Change | StreamPosition)[] = [];
  private lastPosition: string | null = null;
  private head = 0;
  private failure: { error: unknown } | null = null;
  private wakeConsumer: (() => void) | null = null;
  private wakeReader: (() => void) | null = null;
  private reading: Promise<void> = Promise.resolve();
  /** the fragments of a split event read so far ($changeStreamSplitLargeEvent) */
  private fragments: Change[] = [];

  constructor(
    /** a collection; or a database, or the deployment (the client), for a capture scope */
    private readonly watched: Collection | Db | MongoClient,
    private readonly settings: ChangeSourceSettings,
  ) {}

  open(from: ResumePoint): void {
    const options: ChangeStreamOptions = {
      fullDocument: 'updateLookup',
      maxAwaitTimeMS: this.settings.maxAwaitTimeMs,
      batchSize: this.settings.batchSize,
      // Each change as its BSON bytes, decoded by decodeRawChange: Int32, Double and Long keep their BSON types
      // (promoted to JS numbers, a double 42.0 would be written as an int), as in whatever the driver decodes itself.
      raw: true,
      promoteValues: false,
    };
    if (this.settings.fullDocumentBeforeChange !== 'off') options.fullDocumentBeforeChange = this.settings.fullDocumentBeforeChange;
    if (from.kind === 'token') options.resumeAfter = { _data: from.token };
    if (from.kind === 'after-end') options.startAfter = { _data: from.token };
    if (from.kind === 'time') options.startAtOperationTime = from.at;
    // The stage has to be the pipeline's last.
    const pipeline = this.settings.splitLargeEvents ? [...this.settings.pipeline, { $changeStreamSplitLargeEvent: {} }] : this.settings.pipeline;
    this.fragments = [];
    const stream = (this.watched as Collection).watch(pipeline, options);
    decodeChangesLazily(stream);
    this.stream = stream;
    this.reading = this.readAhead(stream);
  }

  private get buffered(): number {
    return this.queue.length - this.head;
  }

  private async readAhead(stream: ChangeStream<Document, Change>): Promise<void> {
    try {
      while (this.stream === stream) {
        // Two batches: a getMore that comes back slowly (a busy server) leaves the consumer a whole batch to work on.
        if (this.buffered >= 2 * this.settings.batchSize) {
          await new Promise<void>((resolve) => (this.wakeReader = resolve));
          continue;
        }
        const started = Date.now();
        const change = await stream.tryNext();
        if (change) {
          const whole = this.joinFragments(change);
          if (whole) {
            this.queue.push(whole);
            this.wake();
          }
          continue;
        }
        // Between two fragments the stream's position is inside an event: not a point to checkpoint.
        if (this.fragments.length === 0) this.notePosition(stream);
        // A server that answers an empty getMore at once (instead of waiting maxAwaitTimeMS) would make us spin.
        const idleWait = Math.min(50, this.settings.maxAwaitTimeMs) - (Date.now() - started);
        if (idleWait > 0) await new Promise((resolve) => setTimeout(resolve, idleWait));
      }
    } catch (error) {
      if (this.stream === stream) this.failure = { error };
      this.wake();
    }
  }

  /**
   * A change as it was before $changeStreamSplitLargeEvent cut it: null until its last fragment arrives, then the
   * fields of all fragments with the last fragment's resume token (resuming after it continues after the event).
   */
  private joinFragments(change: Change): Change | null {
    // Int32 objects, not numbers: changes are decoded with promoteValues: false.
    const splitEvent = (change as { splitEvent?: { fragment: unknown; of: unknown } }).splitEvent;
    const split = splitEvent ? { fragment: Number(splitEvent.fragment), of: Number(splitEvent.of) } : null;
    if (!split) {
      if (this.fragments.length > 0) throw new Error(`change stream: a change arrived after ${this.fragments.length} fragment(s) of a split event`);
      return change;
    }
    if (split.fragment !== this.fragments.length + 1) {
      throw new Error(`change stream: fragment ${split.fragment} of ${split.of} of a split event arrived after ${this.fragments.length}`);
    }
    this.fragments.push(change);
    if (split.fragment < split.of) return null;
    const joined = Object.assign({}, ...this.fragments) as Change & { splitEvent?: unknown };
    delete joined.splitEvent;
    joined._id = change._id;
    this.fragments = [];
    return joined;
  }

  /** Queues the stream's position after an empty batch, once per position (a quiet oplog repeats it). */
  private notePosition(stream: ChangeStream<Document, Change>): void {
    const data = (stream.resumeToken as { _data?: unknown } | null)?._data;
    if (typeof data !== 'string' || data === this.lastPosition) return;
    this.lastPosition = data;
    this.queue.push(new StreamPosition(data));
    this.wake();
  }

  private wake(): void {
    const wake = this.wakeConsumer;
    this.wakeConsumer = null;
    wake?.();
  }

  /**
   * The next change or stream position, or null when none arrived within maxAwaitTimeMs; read errors surface here,
   * after the changes before them.
   */
  async tryNext(): Promise<Change | StreamPosition | null> {
    if (!this.stream) throw new Error('change stream not open');
    if (this.buffered === 0 && !this.failure) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.wakeConsumer = resolve;
        timer = setTimeout(resolve, this.settings.maxAwaitTimeMs);
      });
      clearTimeout(timer);
      this.wakeConsumer = null;
    }
    const next = this.takeBuffered();
    if (next !== null) return next;
    if (this.failure) throw this.failure.error;
    return null;
  }

  /**
   * The next change or position already read, or null: without waiting, so a consumer takes what a getMore
   * brought without an await per change (then tryNext, which waits and reports a read error).
   */
  takeBuffered(): Change | StreamPosition | null {
    if (this.buffered === 0) return null;
    const change = this.queue[this.head]!;
    this.head++;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    }
    const wake = this.wakeReader;
    this.wakeReader = null;
    wake?.();
    return change;
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = null;
    this.wakeReader?.();
    this.wakeReader = null;
    await stream?.close().catch(() => undefined);
    await this.reading;
    this.queue = [];
    this.head = 0;
  }
}

/**
 * The stream is opened raw (each change handed over as its BSON bytes) and each change decoded here before the
 * driver sees it: the small fields as the driver would decode them, the documents left as bytes
 * (decodeRawChange). The driver's step that caches each change's resume token (for its own resuming after a
 * network error) is where the bytes are decoded, so it caches the token as before.
 */
function decodeChangesLazily(stream: ChangeStream<Document, Change>): void {
  const internals = stream as unknown as { _processChange?: (change: unknown) => Change };
  const processChange = internals._processChange;
  if (typeof processChange !== 'function') {
    throw new Error('mongodb driver: ChangeStream._processChange not found; the raw change stream needs it (driver version changed?)');
  }
  internals._processChange = (change: unknown) => processChange.call(stream, change instanceof Uint8Array ? decodeRawChange(change) : change);
}

/** The server's current cluster time, taken before a snapshot scan so the stream can start exactly there. */
export async function currentClusterTime(client: MongoClient): Promise<Timestamp> {
  const reply = await client.db('admin').command({ ping: 1 });
  const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as Timestamp | undefined;
  if (!time) throw new Error('the server reported no cluster time (is it a replica set?)');
  return time;
}
