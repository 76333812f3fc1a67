import type { ChangeStream, ChangeStreamDocument, ChangeStreamOptions, Collection, Document, MongoClient, Timestamp } from 'mongodb';
import { MongoServerError } from 'mongodb';

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
  batchSize: number;
}

/** ChangeStreamHistoryLost: the resume point has rolled off the oplog. */
export function isHistoryLost(error: unknown): boolean {
  return error instanceof MongoServerError && (error.code === 286 || error.codeName === 'ChangeStreamHistoryLost' || /resume point may no longer be in the oplog/i.test(error.message));
}

/** One change stream on one collection, pulled on demand so a slow sink stops the reads (backpressure). */
export class ChangeSource {
  private stream: ChangeStream<Document, ChangeStreamDocument<Document>> | null = null;

  constructor(
    private readonly collection: Collection,
    private readonly settings: ChangeSourceSettings,
  ) {}

  open(from: ResumePoint): void {
    const options: ChangeStreamOptions = {
      fullDocument: 'updateLookup',
      maxAwaitTimeMS: this.settings.maxAwaitTimeMs,
      batchSize: this.settings.batchSize,
    };
    if (this.settings.fullDocumentBeforeChange !== 'off') options.fullDocumentBeforeChange = this.settings.fullDocumentBeforeChange;
    if (from.kind === 'token') options.resumeAfter = { _data: from.token };
    if (from.kind === 'after-end') options.startAfter = { _data: from.token };
    if (from.kind === 'time') options.startAtOperationTime = from.at;
    this.stream = this.collection.watch(this.settings.pipeline, options);
  }

  /** The next change, or null when none arrived within maxAwaitTimeMs. */
  async tryNext(): Promise<ChangeStreamDocument<Document> | null> {
    if (!this.stream) throw new Error('change stream not open');
    const started = Date.now();
    const change = await this.stream.tryNext();
    // A server that answers an empty getMore at once (instead of waiting maxAwaitTimeMS) would make us spin.
    const idleWait = Math.min(50, this.settings.maxAwaitTimeMs) - (Date.now() - started);
    if (change === null && idleWait > 0) await new Promise((resolve) => setTimeout(resolve, idleWait));
    return change;
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = null;
    await stream?.close().catch(() => undefined);
  }
}

/** The server's current cluster time, taken before a snapshot scan so the stream can start exactly there. */
export async function currentClusterTime(client: MongoClient): Promise<Timestamp> {
  const reply = await client.db('admin').command({ ping: 1 });
  const time = (reply.operationTime ?? reply.$clusterTime?.clusterTime) as Timestamp | undefined;
  if (!time) throw new Error('the server reported no cluster time (is it a replica set?)');
  return time;
}
