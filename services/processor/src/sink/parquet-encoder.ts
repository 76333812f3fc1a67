// The encoding thread's entry (started by ParquetThread, parquet-thread.ts): encodes a batch's columns into a
// Parquet file and writes it. It imports nothing that loads a native addon (the Kafka client's cannot load twice).
import { open, type FileHandle } from 'node:fs/promises';
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
/** A failure inside the encoder (WebAssembly), as opposed to the file's own (a full disk, a permission). */
class EncoderFailure extends Error {
  constructor(readonly original: unknown) {
    super('the Parquet encoder failed');
  }
}

/**
 * Jobs run one at a time: each holds a row group and a slice in the WebAssembly memory while it is encoded, and that
 * memory, once grown, is never given back.
 */
let jobs: Promise<void> = Promise.resolve();

port?.on('message', (job: EncoderJob) => {
  jobs = jobs.then(() => encodeAndAnswer(job));
});

function encodeAndAnswer(job: EncoderJob): Promise<void> {
  return write(job).then(
    (bytes) => port?.postMessage({ id: job.id, bytes } satisfies EncoderAnswer),
    (error: unknown) => {
      const inEncoder = error instanceof EncoderFailure;
      answerError(job.id, inEncoder ? error.original : error);
      // A panic inside WebAssembly may leave its memory inconsistent: this thread ends once it has answered, and the
      // next job starts a fresh one.
      if (inEncoder) process.exit(1);
    },
  );
}

/** Writes the job's file as the encoder hands out its bytes; resolves the file's size. */
async function write(job: EncoderJob): Promise<number> {
  const encoded = await encodeParquet(job.batch, job.options).catch((error: unknown) => {
    throw new EncoderFailure(error);
  });
  const reader = encoded.getReader();
  const next = () =>
    reader.read().catch((error: unknown) => {
      throw new EncoderFailure(error);
    });
  let handle: FileHandle | undefined;
  try {
    handle = await open(job.path, 'w');
    let bytes = 0;
    for (let chunk = await next(); !chunk.done; chunk = await next()) {
      await handle.write(chunk.value);
      bytes += chunk.value.byteLength;
    }
    return bytes;
  } catch (error) {
    if (!(error instanceof EncoderFailure)) await reader.cancel().catch(() => undefined);
    throw error;
  } finally {
    await handle?.close();
  }
}

function answerError(id: number, error: unknown): void {
  const { message, code } = error as NodeJS.ErrnoException;
  port?.postMessage({ id, error: { message: String(message ?? error), ...(code ? { code } : {}) } } satisfies EncoderAnswer);
}
