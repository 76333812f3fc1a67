// The main side of the encoding thread (parquet-encoder.ts): Parquet encoding, compression and the file write, off
// the consuming thread. A closed batch's column buffers are handed over (transferred, not copied) with a path.
import { Worker } from 'node:worker_threads';
import type { ArrowParquetOptions } from './arrow-parquet.js';
import { ColumnBuffers, type ColumnBatchData } from './column-buffers.js';
import type { EncoderAnswer, EncoderJob } from './parquet-encoder.js';

/**
 * One encoding thread, started on first use, jobs answered in turn. A thread that dies fails the jobs it held (their
 * batches fail and are read again) and the next job starts a new one. It keeps the process alive only while it has work.
 */
export class ParquetThread {
  private worker: Worker | null = null;
  private nextId = 0;
  private readonly pending = new Map<number, { resolve: (bytes: number) => void; reject: (error: Error) => void }>();

  private start(): Worker {
    const worker = new Worker(new URL('./parquet-encoder.js', import.meta.url));
    worker.unref();
    worker.on('message', (answer: EncoderAnswer) => {
      const job = this.pending.get(answer.id);
      if (!job) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if ('error' in answer) job.reject(Object.assign(new Error(answer.error.message), answer.error.code ? { code: answer.error.code } : {}));
      else job.resolve(answer.bytes);
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = null;
      for (const job of this.pending.values()) job.reject(error);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the Parquet encoding thread exited (${code})`)));
    return worker;
  }

  /** Encodes the batch into a Parquet file at `path`; resolves its size. The batch's buffers are moved to the thread. */
  write(path: string, batch: ColumnBatchData, options: ArrowParquetOptions): Promise<number> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<number>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // held while it has work: a caller awaiting its answer must not see the process end
      worker.ref();
      worker.postMessage({ id, path, batch, options } satisfies EncoderJob, ColumnBuffers.transferList(batch));
    });
  }
}
