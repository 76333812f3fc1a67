import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { loadParquetLibrary, PARQUET_LIBRARIES, type ParquetJsModule, type ParquetLibrary } from '@cdc/core';
import { PARQUET_COLUMNS, type ParquetRow } from '../transform/to-row.js';
import { ColumnBuffers } from './column-buffers.js';
import { ParquetThread } from './parquet-thread.js';

/**
 * The writers: parquet-wasm (arrow-rs compiled to WebAssembly: rows shredded into column buffers as they arrive,
 * encoded and compressed on its own thread; see bench/parquet-writers.ts for the measurements behind it) and the two
 * row-at-a-time parquetjs libraries (rows kept as objects until the file is written, on the consuming thread).
 */
export const PARQUET_WRITERS = ['parquet-wasm', ...PARQUET_LIBRARIES] as const;
export type ParquetWriterName = (typeof PARQUET_WRITERS)[number];

/** Codecs offered: all load into BigQuery. The parquetjs libraries have no ZSTD built in; it is added from a WebAssembly build. */
export const PARQUET_COMPRESSIONS = ['SNAPPY', 'GZIP', 'ZSTD', 'UNCOMPRESSED'] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];

export interface ParquetWriterOptions {
  compression: ParquetCompression;
  /** rows per row group (a file of fewer rows is one row group) */
  rowGroupRows: number;
  /** parquet-wasm: a row group also ends once its encoded columns hold this many bytes (default: no bound) */
  rowGroupBytes?: number;
  /** values per data page */
  pageRows: number;
}

/** The rows of one future file, taken as they arrive, in the form the writer keeps them. */
export interface ParquetRowBuffer {
  append(row: ParquetRow): void;
  readonly length: number;
}

/** Writes one complete Parquet file of rows at a path (the caller makes it durable and renames it). */
export interface ParquetFileWriter {
  readonly library: ParquetWriterName;
  readonly compression: ParquetCompression;
  /** an empty buffer for the rows of the next file */
  newRows(): ParquetRowBuffer;
  /** writes the file of a buffer from newRows() (the buffer is used up), or of rows given all at once */
  write(path: string, rows: ParquetRowBuffer | readonly ParquetRow[]): Promise<{ bytes: number }>;
}

/** Rows kept as objects, for the row-at-a-time writers. */
export class RowArray implements ParquetRowBuffer {
  readonly rows: ParquetRow[] = [];
  append(row: ParquetRow): void {
    this.rows.push(row);
  }
  get length(): number {
    return this.rows.length;
  }
}

/**
 * Columns written without min/max statistics. The writers keep each value as min and max several times over
 * (page header, column chunk, column index, in both the old and new fields, uncompressed): a 15 MiB document made
 * a 232 MB file, a 45 MiB update event 696 MB. BigQuery does not use them to load, and nobody filters on a
 * document's JSON text.
 */
export const COLUMNS_WITHOUT_STATISTICS: ReadonlySet<string> = new Set(['document', 'document_before', 'update_description']);

export function schemaDefinition(compression: ParquetCompression): Record<string, unknown> {
  const definition: Record<string, unknown> = {};
  for (const column of PARQUET_COLUMNS) {
    definition[column.name] = {
      type: column.type,
      optional: column.optional,
      compression,
      ...(COLUMNS_WITHOUT_STATISTICS.has(column.name) ? { statistics: false } : {}),
    };
  }
  return definition;
}

class ParquetJsFileWriter implements ParquetFileWriter {
  private readonly schema: unknown;

  constructor(
    readonly library: ParquetLibrary,
    private readonly module: ParquetJsModule,
    private readonly options: ParquetWriterOptions,
  ) {
    this.schema = new module.ParquetSchema(schemaDefinition(options.compression));
  }

  get compression(): ParquetCompression {
    return this.options.compression;
  }

  newRows(): ParquetRowBuffer {
    return new RowArray();
  }

  /**
   * Both libraries leave some of their stream writes unawaited, so a failed disk write (ENOSPC) would reject where
   * nobody listens and end the process. They write into memory (the batch's rows are there already, and the file
   * is smaller), and the file is written here, where a failure fails the batch.
   */
  async write(path: string, buffer: ParquetRowBuffer | readonly ParquetRow[]): Promise<{ bytes: number }> {
    const rows = buffer instanceof RowArray ? buffer.rows : (buffer as readonly ParquetRow[]);
    const chunks: Buffer[] = [];
    const memory = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
    });
    const writer = await this.module.ParquetWriter.openStream(this.schema, memory, {
      rowGroupSize: this.options.rowGroupRows,
      pageSize: this.options.pageRows,
      // Version 1 data pages: the most widely read form (both libraries default to version 2).
      useDataPageV2: false,
    });
    try {
      for (const row of rows) await writer.appendRow(row as unknown as Record<string, unknown>);
    } finally {
      await writer.close();
    }
    const file = Buffer.concat(chunks);
    await writeFile(path, file);
    return { bytes: file.length };
  }
}

/**
 * parquet-wasm: rows go into column buffers as they arrive; at the close the buffers move to the encoding thread,
 * which builds the Arrow batch, encodes, compresses and writes the file while this thread goes on consuming. The
 * thread encodes one batch at a time, in slices, holding one row group of it (rowGroupBytes) in its WebAssembly memory.
 */
class ArrowFileWriter implements ParquetFileWriter {
  readonly library = 'parquet-wasm';
  private readonly thread = new ParquetThread();

  constructor(private readonly options: ParquetWriterOptions) {}

  get compression(): ParquetCompression {
    return this.options.compression;
  }

  newRows(): ColumnBuffers {
    return new ColumnBuffers();
  }

  async write(path: string, buffer: ParquetRowBuffer | readonly ParquetRow[]): Promise<{ bytes: number }> {
    let columns: ColumnBuffers;
    if (buffer instanceof ColumnBuffers) columns = buffer;
    else {
      columns = new ColumnBuffers();
      for (const row of buffer as readonly ParquetRow[]) columns.append(row);
    }
    const bytes = await this.thread.write(path, columns.take(), {
      compression: this.options.compression,
      rowGroupRows: this.options.rowGroupRows,
      ...(this.options.rowGroupBytes === undefined ? {} : { rowGroupBytes: this.options.rowGroupBytes }),
      withoutStatistics: [...COLUMNS_WITHOUT_STATISTICS],
    });
    return { bytes };
  }
}

export async function createParquetWriter(library: ParquetWriterName, options: ParquetWriterOptions): Promise<ParquetFileWriter> {
  if (library === 'parquet-wasm') return new ArrowFileWriter(options);
  return new ParquetJsFileWriter(library, await loadParquetLibrary(library, options.compression === 'ZSTD'), options);
}
