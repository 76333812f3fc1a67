import { Worker } from 'node:worker_threads';
import type { ClusterTime } from '@cdc/core';
import type { ChangeSourceSettings } from './change-source.js';
import type { BatcherSettings, ChangeBatch } from './change-batcher.js';

/** Where the reading thread opens the stream: a resume token, after a stream-ending token, or a cluster time. */
export type StreamStart = { kind: 'token'; token: string } | { kind: 'after-end'; token: string } | { kind: 'time'; at: ClusterTime };

export interface ChangeReaderInit {
  mongo: { uri: string; serverSelectionTimeoutMS: number; appName: string };
  db: string;
  coll: string;
  from: StreamStart;
  source: ChangeSourceSettings;
  batcher: BatcherSettings;
}

export type ReaderRequest = { type: 'next' } | { type: 'stop' } | { type: 'close' };
export type ReaderReply =
  | { type: 'batch'; batch: ChangeBatch }
  | { type: 'error'; error: { name: string; message: string; code?: number; codeName?: string } }
  | { type: 'closed' };

/** An error of the reading thread, rebuilt with the fields callers classify it by (MongoDB code and codeName). */
export class ChangeReadError extends Error {
  constructor(
    message: string,
    readonly code?: number,
    readonly codeName?: string,
  ) {
    super(message);
    this.name = 'ChangeReadError';
  }
}

/**
 * Reads one change stream in a worker thread (driver decoding, envelope and JSON encoding happen there) while this
 * thread publishes: the two halves of the CDC's CPU work run on two cores. One batch is requested at a time, so the
 * thread is at most one batch (plus one getMore read ahead) in front of the publisher.
 */
export class ChangeReader {
  private readonly worker: Worker;
  private waiting: { resolve: (reply: ReaderReply) => void; reject: (error: Error) => void } | null = null;
  private failure: Error | null = null;

  constructor(init: ChangeReaderInit) {
    this.worker = new Worker(new URL('./change-reader-worker.js', import.meta.url), { workerData: init });
    this.worker.on('message', (reply: ReaderReply) => {
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve(reply);
    });
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', (code) => this.fail(new Error(`the change reading thread ended (exit code ${code})`)));
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.reject(error);
  }

  private request(request: ReaderRequest): Promise<ReaderReply> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.worker.postMessage(request);
    });
  }

  async next(): Promise<ChangeBatch> {
    const reply = await this.request({ type: 'next' });
    if (reply.type === 'error') throw new ChangeReadError(reply.error.message, reply.error.code, reply.error.codeName);
    if (reply.type !== 'batch') throw new Error(`unexpected reply from the change reading thread: ${reply.type}`);
    const { batch } = reply;
    // Buffers arrive as plain Uint8Arrays; kafkajs wants Buffers (a view, no copy).
    for (const { message } of batch.messages) {
      const value = message.value as unknown;
      if (value instanceof Uint8Array && !Buffer.isBuffer(value)) message.value = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    }
    return batch;
  }

  /** Ends the batch being read early (shutdown); the next `next()` still answers. */
  stop(): void {
    if (!this.failure) this.worker.postMessage({ type: 'stop' } satisfies ReaderRequest);
  }

  async close(): Promise<void> {
    if (!this.failure && !this.waiting) {
      const closed = this.request({ type: 'close' }).catch(() => undefined);
      const deadline = new Promise((resolve) => setTimeout(resolve, 5000).unref());
      await Promise.race([closed, deadline]);
    }
    this.failure ??= new Error('change reader closed');
    await this.worker.terminate();
  }
}
