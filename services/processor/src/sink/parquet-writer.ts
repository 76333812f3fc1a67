import { stat } from 'node:fs/promises';
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

  async write(path: string, rows: readonly ParquetRow[]): Promise<{ bytes: number }> {
    const writer = await this.module.ParquetWriter.openFile(this.schema, path, {
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
    return { bytes: (await stat(path)).size };
  }
}

export async function createParquetWriter(library: ParquetLibrary, options: ParquetWriterOptions): Promise<ParquetFileWriter> {
  return new ParquetJsFileWriter(library, await loadParquetLibrary(library, options.compression === 'ZSTD'), options);
}
