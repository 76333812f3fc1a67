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
    try {
      const file = encodeParquet(job.batch, job.options);
      await writeFile(job.path, file);
      port.postMessage({ id: job.id, bytes: file.byteLength } satisfies EncoderAnswer);
    } catch (error) {
      const { message, code } = error as NodeJS.ErrnoException;
      port.postMessage({ id: job.id, error: { message: String(message ?? error), ...(code ? { code } : {}) } } satisfies EncoderAnswer);
    }
  })();
});
