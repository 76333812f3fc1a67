// The Parquet libraries (write: processor; read: loader's typed views), with ZSTD added to their codec table.
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';

const require = createRequire(import.meta.url);

/** `parquetjs-lite` (asked for by name) and its maintained successor `@dsnp/parquetjs` (same API). */
export const PARQUET_LIBRARIES = ['parquetjs-lite', '@dsnp/parquetjs'] as const;
export type ParquetLibrary = (typeof PARQUET_LIBRARIES)[number];

// Both libraries share parquetjs's API; only what is used here is typed.
export interface ParquetJsWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
export interface ParquetJsReader {
  getCursor(columns?: string[][]): { next(): Promise<Record<string, unknown> | null> };
  close(): Promise<void>;
}
export interface ParquetJsModule {
  ParquetSchema: new (definition: Record<string, unknown>) => unknown;
  ParquetWriter: { openStream(schema: unknown, stream: Writable, options: Record<string, unknown>): Promise<ParquetJsWriter> };
  ParquetReader: { openFile(path: string): Promise<ParquetJsReader> };
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

/** Loads a library; `withZstd` registers ZSTD in its codec table (its thrift enum already knows ZSTD). */
export async function loadParquetLibrary(library: ParquetLibrary, withZstd: boolean): Promise<ParquetJsModule> {
  const { main, compression } = MODULES[library];
  const module = require(main) as ParquetJsModule;
  if (withZstd) {
    const methods = (require(compression) as CompressionModule).PARQUET_COMPRESSION_METHODS;
    methods.ZSTD ??= await loadZstd();
  }
  return module;
}
