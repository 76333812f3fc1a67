// Column buffers -> Arrow record batch -> Parquet bytes, by parquet-wasm (the Rust arrow-rs writer compiled to
// WebAssembly). Runs on the encoding thread (parquet-thread.ts); the tests also call it directly.
import { createRequire } from 'node:module';
import { Bool, Field, Int32, Int64, makeData, RecordBatch, Schema, Struct, Table, TimestampMicrosecond, Utf8, tableToIPC, type Data, type DataType } from 'apache-arrow';
import type { ColumnBatchData, ColumnData } from './column-buffers.js';

type ParquetWasm = typeof import('parquet-wasm');
// The Node build (CommonJS, loads its WebAssembly synchronously); its package's "exports" names it ./node.
const wasm = createRequire(import.meta.url)('parquet-wasm/node') as ParquetWasm;

export type ArrowCompression = 'SNAPPY' | 'GZIP' | 'ZSTD' | 'UNCOMPRESSED';

export interface ArrowParquetOptions {
  compression: ArrowCompression;
  rowGroupRows: number;
  /** a row group also ends once its encoded columns hold this many bytes: the encoder holds one row group, not the file */
  rowGroupBytes?: number;
  /**
   * columns written without min/max statistics and without dictionary: the documents' JSON, unique per row (a
   * dictionary page holding a many-MiB value is one that @dsnp/parquetjs, the loader's typed views' reader, fails
   * to decompress)
   */
  withoutStatistics: readonly string[];
}

/** One byte per row (0/1) -> Arrow's bitmap, least significant bit first. */
function bitmap(bytes: Uint8Array, rows: number): Uint8Array {
  const bits = new Uint8Array(Math.ceil(rows / 8));
  for (let i = 0; i < rows; i++) if (bytes[i]) bits[i >> 3]! |= 1 << (i & 7);
  return bits;
}

function int64(numbers: Float64Array, scale: number): BigInt64Array {
  const out = new BigInt64Array(numbers.length);
  for (let i = 0; i < numbers.length; i++) out[i] = BigInt(numbers[i]!) * BigInt(scale);
  return out;
}

function arrowType(column: ColumnData): DataType {
  switch (column.type) {
    case 'UTF8':
      return new Utf8();
    // UTC: Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true), the converted type TIMESTAMP_MICROS of today's files
    case 'TIMESTAMP_MICROS':
      return new TimestampMicrosecond('UTC');
    case 'INT64':
      return new Int64();
    case 'INT32':
      return new Int32();
    case 'BOOLEAN':
      return new Bool();
  }
}

function arrowData(column: ColumnData, rows: number): Data {
  const type = arrowType(column);
  let nullCount = 0;
  if (column.valid) for (let i = 0; i < rows; i++) nullCount += column.valid[i] ? 0 : 1;
  const nullBitmap = column.valid && nullCount > 0 ? bitmap(column.valid, rows) : undefined;
  const common = { type, length: rows, nullCount, ...(nullBitmap ? { nullBitmap } : {}) };
  switch (column.type) {
    case 'UTF8':
      return makeData({ ...common, type: type as Utf8, valueOffsets: column.offsets!, data: column.bytes! });
    case 'TIMESTAMP_MICROS':
      return makeData({ ...common, type: type as TimestampMicrosecond, data: int64(column.numbers!, 1000) });
    case 'INT64':
      return makeData({ ...common, type: type as Int64, data: int64(column.numbers!, 1) });
    case 'INT32':
      return makeData({ ...common, type: type as Int32, data: Int32Array.from(column.numbers!) });
    case 'BOOLEAN':
      return makeData({ ...common, type: type as Bool, data: bitmap(column.flags!, rows) });
  }
}

/**
 * Rows per Arrow record batch handed to the Parquet writer. The WebAssembly memory then holds one slice and the
 * file's encoded pages, instead of the whole batch twice (as Arrow IPC and as arrays); a row group still takes up to
 * `rowGroupRows` rows, across slices.
 */
const SLICE_ROWS = 8192;

/** Rows [start, end) of a column: views on its buffers, string offsets rebased to the slice's own bytes. */
function sliceOf(column: ColumnData, start: number, end: number): ColumnData {
  const slice: ColumnData = { name: column.name, type: column.type, optional: column.optional };
  if (column.valid) slice.valid = column.valid.subarray(start, end);
  if (column.offsets && column.bytes) {
    const base = column.offsets[start]!;
    const offsets = new Int32Array(end - start + 1);
    for (let i = 0; i <= end - start; i++) offsets[i] = column.offsets[start + i]! - base;
    slice.offsets = offsets;
    slice.bytes = column.bytes.subarray(base, column.offsets[end]!);
  }
  if (column.numbers) slice.numbers = column.numbers.subarray(start, end);
  if (column.flags) slice.flags = column.flags.subarray(start, end);
  return slice;
}

/** The Parquet file of a batch's columns, as a stream of its bytes, encoded slice by slice as it is read. */
export async function encodeParquet(batch: ColumnBatchData, options: ArrowParquetOptions): Promise<ReadableStream<Uint8Array>> {
  const fields = batch.columns.map((c) => new Field(c.name, arrowType(c), c.optional));
  const schema = new Schema(fields);
  let start = 0;
  const slices = new ReadableStream<unknown>({
    // a batch of no rows still gives a file (its schema comes with the first slice)
    pull(controller) {
      const end = Math.min(batch.rows, start + SLICE_ROWS);
      const children = batch.columns.map((c) => arrowData(sliceOf(c, start, end), end - start));
      const record = new RecordBatch(schema, makeData({ type: new Struct(fields), length: end - start, nullCount: 0, children }));
      const table = wasm.Table.fromIPCStream(tableToIPC(new Table(schema, [record]), 'stream'));
      for (const slice of table.recordBatches()) controller.enqueue(slice);
      table.free();
      start = end;
      if (start >= batch.rows) controller.close();
    },
  });
  let builder = new wasm.WriterPropertiesBuilder()
    .setCompression(wasm.Compression[options.compression])
    .setMaxRowGroupSize(options.rowGroupRows)
    .setMaxRowGroupBytes(options.rowGroupBytes ?? Number.MAX_SAFE_INTEGER)
    .setWriterVersion(wasm.WriterVersion.V1)
    .setCreatedBy('cdc-processor (parquet-wasm)');
  for (const name of options.withoutStatistics) builder = builder.setColumnStatisticsEnabled(name, wasm.EnabledStatistics.None).setColumnDictionaryEnabled(name, false);
  return (await wasm.transformParquetStream(slices, builder.build())) as ReadableStream<Uint8Array>;
}
