import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { loadParquetLibrary, type ParquetJsModule, type ParquetLibrary } from '@cdc/core';
import { PARQUET_COLUMNS, type ParquetRow } from '../transform/to-row.js';

export { PARQUET_LIBRARIES, type ParquetLibrary } from '@cdc/core';

/** Codecs offered: all load into BigQuery. Neither library has ZSTD built in; it is added from a WebAssembly build. */
export const PARQUET_COMPRESSIONS = ['SNAPPY', 'GZIP', 'ZSTD', 'UNCOMPRESSED'] as const;
export type ParquetCompression = (typeof PARQUET_COMPRESSIONS)[number];

export interface ParquetWriterOptions {
  compression: ParquetCompression;
  /** rows per row group (a file of fewer rows is one row group) */
  rowGroupRows: number;
  /** values per data page */
  pageRows: number;
}

/** Writes one complete Parquet file of rows at a path (the caller makes it durable and renames it). */
export interface ParquetFileWriter {
  readonly library: ParquetLibrary;
  readonly compression: ParquetCompression;
  write(path: string, rows: readonly ParquetRow[]): Promise<{ bytes: number }>;
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

  /**
   * Both libraries leave some of their stream writes unawaited, so a failed disk write (ENOSPC) would reject where
   * nobody listens and end the process. They write into memory (the batch's rows are there already, and the file
   * is smaller), and the file is written here, where a failure fails the batch.
   */
  async write(path: string, rows: readonly ParquetRow[]): Promise<{ bytes: number }> {
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

export async function createParquetWriter(library: ParquetLibrary, options: ParquetWriterOptions): Promise<ParquetFileWriter> {
  return new ParquetJsFileWriter(library, await loadParquetLibrary(library, options.compression === 'ZSTD'), options);
}
