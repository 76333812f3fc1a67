import { adapt, managedwriter, protos } from '@google-cloud/bigquery-storage';
import { loadParquetLibrary, PARQUET_COLUMNS, type ColumnSpec } from '@cdc/core';
import { changesTableColumns, classifyGcpError, GcpError, type WarehouseNames } from '@cdc/core/gcp';
import { PermanentFileError } from './errors.js';

type WriterClient = managedwriter.WriterClient;
type AppendResponse = protos.google.cloud.bigquery.storage.v1.IAppendRowsResponse;
type Row = Record<string, string | number | boolean | Date | null>;

/** One AppendRows request the server acknowledged (billed, whether or not its stream is committed later). */
export interface AppendedBatch {
  rows: number;
  /** by BigQuery's data-size rules (what the Storage Write API bills): STRING 2 + UTF-8 bytes, INTEGER and TIMESTAMP 8, BOOLEAN 1, NULL 0 */
  bytes: number;
}

/** What the caller is told while a group is written. */
export interface AppendProgress {
  /** each acknowledged request */
  appended(batch: AppendedBatch): void;
  /** every row appended, before finalize and commit (a crash point) */
  afterAppend(): void;
}

/**
 * Every call tried once, within a minute: the client's own retries (up to 10 minutes of UNAVAILABLE and
 * RESOURCE_EXHAUSTED for CreateWriteStream) would hide the refusal from the step's retries, metrics and readiness.
 */
const ONCE = { retry: null, timeout: 60_000 };

/** An AppendRows request carries at most 10 MB; rows go in batches well below it. */
const APPEND_MAX_BYTES = 8 * 1024 * 1024;
const APPEND_MAX_ROWS = 50_000;

/** gRPC status codes (grpc.status) and the HTTP status and reason our error classification knows them by. */
const GRPC_AS_HTTP: Record<number, { status: number; reason: string }> = {
  1: { status: 503, reason: 'cancelled' },
  2: { status: 500, reason: 'backendError' },
  3: { status: 400, reason: 'invalid' },
  4: { status: 504, reason: 'timeout' },
  5: { status: 404, reason: 'notFound' },
  // A duplicate offset, an offset past the end, a finalized or committed stream: that stream is spent, a fresh attempt (new table and stream) is sound.
  6: { status: 503, reason: 'streamOffsetAlreadyExists' },
  7: { status: 403, reason: 'accessDenied' },
  8: { status: 429, reason: 'quotaExceeded' },
  9: { status: 503, reason: 'streamFinalized' },
  10: { status: 503, reason: 'aborted' },
  11: { status: 503, reason: 'streamOffsetOutOfRange' },
  13: { status: 500, reason: 'internalError' },
  14: { status: 503, reason: 'backendError' },
  16: { status: 401, reason: 'unauthorized' },
};

/** A write-API error (a gRPC status thrown by the client, or the `error` of an append's response) classified like the REST ones. */
export function writeApiError(error: unknown, what: string): GcpError {
  const e = (error ?? {}) as { code?: unknown; message?: unknown; details?: unknown };
  const code = typeof e.code === 'number' ? e.code : null;
  const known = code === null ? undefined : GRPC_AS_HTTP[code];
  if (!known) return classifyGcpError(error);
  const message = `${what}: ${String(e.details || e.message || `gRPC status ${code}`)}`;
  return classifyGcpError({ code: known.status, errors: [{ reason: known.reason, message }], message });
}

/** BigQuery's size of one value (cloud.google.com/bigquery/pricing#data_ingestion_pricing counts these). */
function billedSize(value: Row[string], column: ColumnSpec): number {
  if (value === null || value === undefined) return 0;
  if (column.bigquery === 'STRING') return 2 + Buffer.byteLength(String(value), 'utf8');
  if (column.bigquery === 'BOOLEAN') return 1;
  return 8;
}

/** A Parquet row as the write API's JSON writer takes it: the same values the load job reads from the file. */
function toWriteRow(record: Record<string, unknown>): { row: Row; bytes: number } {
  const row: Row = {};
  let bytes = 0;
  for (const column of PARQUET_COLUMNS) {
    const raw = record[column.name];
    let value: Row[string];
    if (raw === undefined || raw === null) value = null;
    // TIMESTAMP_MICROS: the reader gives a Date; a raw value would be microseconds
    else if (column.bigquery === 'TIMESTAMP') value = raw instanceof Date ? raw : new Date(Number(BigInt(raw as bigint | number) / 1000n));
    else if (column.bigquery === 'INTEGER') value = typeof raw === 'bigint' ? raw.toString() : Number(raw);
    else if (column.bigquery === 'BOOLEAN') value = Boolean(raw);
    else value = Buffer.isBuffer(raw) ? raw.toString('utf8') : String(raw);
    row[column.name] = value;
    bytes += billedSize(value, column);
  }
  return { row, bytes };
}

/** The rows of one Parquet file, in file order; a file that cannot be read is the file's fault. */
async function* parquetRows(path: string): AsyncGenerator<Record<string, unknown>> {
  const parquet = await loadParquetLibrary('@dsnp/parquetjs', true);
  let reader;
  try {
    reader = await parquet.ParquetReader.openFile(path);
  } catch (error) {
    throw new PermanentFileError('load_failed', `${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const cursor = reader.getCursor();
    for (;;) {
      let record: Record<string, unknown> | null;
      try {
        record = await cursor.next();
      } catch (error) {
        throw new PermanentFileError('load_failed', `${path}: ${(error as Error).message}`, { cause: error });
      }
      if (!record) return;
      yield record;
    }
  } finally {
    await reader.close().catch(() => undefined);
  }
}

/**
 * The second way to fill a group's staging table: its rows appended through the BigQuery Storage Write API
 * instead of one load job. A PENDING stream is created on the (fresh, empty) staging table, the rows of every file
 * appended with explicit offsets (a request the server already has is refused, never applied twice), the stream
 * finalized (its row count must be every row sent) and committed with BatchCommitWriteStreams: the rows appear in
 * the table at once, or not at all. Any error fails the attempt: the caller drops the table and tries a fresh one,
 * so a retry never meets the rows of an earlier stream. Load jobs, and so the daily load-job budget, are not used.
 */
export class StorageWriteStaging {
  private readonly descriptor = adapt.convertStorageSchemaToProto2Descriptor(
    adapt.convertBigQuerySchemaToStorageTableSchema({ fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) }),
    'root',
  );

  constructor(
    private readonly writer: WriterClient,
    private readonly names: WarehouseNames,
  ) {}

  private tablePath(table: string): string {
    return `projects/${this.names.project}/datasets/${this.names.dataset}/tables/${table}`;
  }

  /** The files' rows into the staging table, visible all at once; returns how many rows. */
  async writeStaging(table: string, paths: readonly string[], progress: AppendProgress): Promise<number> {
    const parent = this.tablePath(table);
    let streamId: string;
    try {
      streamId = await this.writer.createWriteStream({ streamType: managedwriter.PendingStream, destinationTable: parent }, ONCE);
    } catch (error) {
      throw writeApiError(error, `create a pending write stream on ${table}`);
    }
    const connection = await this.writer.createStreamConnection({ streamId }, ONCE).catch((error: unknown) => {
      throw writeApiError(error, `open write stream ${streamId}`);
    });
    // A failed connection rejects the appends waiting on it (how the error reaches us); unheard, its 'error' event would end the process.
    const quiet = connection.onConnectionError(() => undefined);
    const writer = new managedwriter.JSONWriter({ connection, protoDescriptor: this.descriptor });
    try {
      let rows = 0;
      let batch: Row[] = [];
      let batchBytes = 0;
      const send = async () => {
        if (batch.length === 0) return;
        const result = await writer
          .appendRows(batch, rows)
          .getResult()
          .catch((error: unknown) => {
            throw writeApiError(error, `append at offset ${rows} to ${streamId}`);
          });
        checkAppend(result, rows, streamId);
        progress.appended({ rows: batch.length, bytes: batchBytes });
        rows += batch.length;
        batch = [];
        batchBytes = 0;
      };
      for (const path of paths) {
        for await (const record of parquetRows(path)) {
          const { row, bytes } = toWriteRow(record);
          // Proto encoding is about the billed size plus a few bytes of tags per value.
          if (batch.length > 0 && (batchBytes + bytes + 4 * PARQUET_COLUMNS.length >= APPEND_MAX_BYTES || batch.length >= APPEND_MAX_ROWS)) await send();
          batch.push(row);
          batchBytes += bytes;
        }
      }
      await send();
      progress.afterAppend();
      await this.finalizeAndCommit(parent, streamId, rows);
      return rows;
    } finally {
      writer.close();
      connection.close();
      quiet.off();
    }
  }

  private async finalizeAndCommit(parent: string, streamId: string, rows: number): Promise<void> {
    const client = this.writer.getClient();
    const [finalized] = await client.finalizeWriteStream({ name: streamId }, ONCE).catch((error: unknown) => {
      throw writeApiError(error, `finalize write stream ${streamId}`);
    });
    const rowCount = Number(finalized?.rowCount ?? -1);
    if (rowCount !== rows) throw writeApiError({ code: 10, message: `stream ${streamId} finalized with ${rowCount} rows, ${rows} were appended` }, 'finalize');
    const [committed] = await client.batchCommitWriteStreams({ parent, writeStreams: [streamId] }, ONCE).catch((error: unknown) => {
      throw writeApiError(error, `commit write stream ${streamId}`);
    });
    const problem = committed.streamErrors?.[0];
    if (problem || !committed.commitTime) {
      // STREAM_NOT_FOUND, INVALID_STREAM_STATE, ...: that stream cannot be committed; the attempt starts again.
      throw writeApiError({ code: 9, message: `${problem?.code ?? 'no commit time'} ${problem?.errorMessage ?? ''}`.trim() }, `commit write stream ${streamId}`);
    }
  }
}

/** An append's answer: an error status, or the offset it was written at (which must be the one asked for). */
function checkAppend(result: AppendResponse, offset: number, streamId: string): void {
  if (result.error && result.error.code) throw writeApiError({ code: result.error.code, message: result.error.message }, `append at offset ${offset} to ${streamId}`);
  if (result.rowErrors && result.rowErrors.length > 0) {
    const first = result.rowErrors[0]!;
    throw new PermanentFileError('load_failed', `row ${Number(first.index ?? 0) + offset} refused by the write API: ${first.message ?? first.code}`);
  }
  const at = result.appendResult?.offset?.value;
  if (at !== undefined && at !== null && Number(at) !== offset) throw writeApiError({ code: 11, message: `appended at offset ${String(at)}, not ${offset}` }, `append to ${streamId}`);
}
