// The encoding thread's entry (started by ParquetThread, parquet-thread.ts): encodes a batch's columns into a
// Parquet file and writes it. It imports nothing that loads a native addon (the Kafka client's cannot load twice).
import { writeFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { encodeParquet, type ArrowParquetOptions } from './arrow-parquet.js';
import type { ColumnBatchData } from './column-buffers.js';

export interface EncoderJob {
  id: number;
  path: string;
  batch: ColumnBatchData;
  options: ArrowParquetOptions;
}
export type EncoderAnswer = { id: number; bytes: number } | { id: number; error: { message: string; code?: string } };

const port = parentPort;
port?.on('message', (job: EncoderJob) => {
  void (async () => {
    let file: Uint8Array;
    try {
      file = encodeParquet(job.batch, job.options);
    } catch (error) {
      // A panic inside WebAssembly may leave its memory inconsistent: this thread ends once it has answered, and the
      // next job starts a fresh one.
      answerError(job.id, error);
      process.exit(1);
    }
    try {
      await writeFile(job.path, file);
      port.postMessage({ id: job.id, bytes: file.byteLength } satisfies EncoderAnswer);
    } catch (error) {
      answerError(job.id, error);
    }
  })();
});

function answerError(id: number, error: unknown): void {
  const { message, code } = error as NodeJS.ErrnoException;
  port?.postMessage({ id, error: { message: String(message ?? error), ...(code ? { code } : {}) } } satisfies EncoderAnswer);
}
