import { createRequire } from 'node:module';
import { stat } from 'node:fs/promises';
import { PARQUET_COLUMNS, type ParquetRow } from '../transform/to-row.js';

const require = createRequire(import.meta.url);

/** `parquetjs-lite` (asked for by name) and its maintained successor `@dsnp/parquetjs` (same API). */
export const PARQUET_LIBRARIES = ['parquetjs-lite', '@dsnp/parquetjs'] as const;
export type ParquetLibrary = (typeof PARQUET_LIBRARIES)[number];

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

// Both libraries share parquetjs's API; only what is used here is typed.
interface ParquetJsWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
interface ParquetJsModule {
  ParquetSchema: new (definition: Record<string, unknown>) => unknown;
  ParquetWriter: { openFile(schema: unknown, path: string, options: Record<string, unknown>): Promise<ParquetJsWriter> };
}
interface Codec {
  deflate(value: Buffer): Buffer | Promise<Buffer>;
  inflate(value: Buffer): Buffer | Promise<Buffer>;
}
interface CompressionModule {
  PARQUET_COMPRESSION_METHODS: Record<string, Codec>;
}

const MODULES: Record<ParquetLibrary, { main: string; compression: string }> = {
  'parquetjs-lite': { main: 'parquetjs-lite', compression: 'parquetjs-lite/lib/compression.js' },
  '@dsnp/parquetjs': { main: '@dsnp/parquetjs', compression: '@dsnp/parquetjs/dist/lib/compression.js' },
};

const ZSTD_LEVEL = 3;
let zstdCodec: Promise<Codec> | null = null;

/** ZSTD from the zstd WebAssembly build (synchronous once initialised, as parquetjs-lite needs). */
function loadZstd(): Promise<Codec> {
  zstdCodec ??= (async () => {
    const zstd = require('@bokuweb/zstd-wasm') as {
      init(): Promise<void>;
      compress(buffer: Uint8Array, level?: number): Uint8Array;
      decompress(buffer: Uint8Array): Uint8Array;
    };
    await zstd.init();
    const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return {
      deflate: (value: Buffer) => toBuffer(zstd.compress(value, ZSTD_LEVEL)),
      inflate: (value: Buffer) => toBuffer(zstd.decompress(value)),
    };
  })();
  return zstdCodec;
}

/** Loads a library, registering ZSTD in its codec table when asked for (its thrift enum already knows ZSTD). */
async function loadLibrary(library: ParquetLibrary, compression: ParquetCompression): Promise<ParquetJsModule> {
  const { main, compression: compressionPath } = MODULES[library];
  const module = require(main) as ParquetJsModule;
  if (compression === 'ZSTD') {
    const methods = (require(compressionPath) as CompressionModule).PARQUET_COMPRESSION_METHODS;
    methods.ZSTD ??= await loadZstd();
  }
  return module;
}

export function schemaDefinition(compression: ParquetCompression): Record<string, unknown> {
  const definition: Record<string, unknown> = {};
  for (const column of PARQUET_COLUMNS) {
    definition[column.name] = { type: column.type, optional: column.optional, compression };
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
  return new ParquetJsFileWriter(library, await loadLibrary(library, options.compression), options);
}
