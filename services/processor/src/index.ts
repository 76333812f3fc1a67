// Library surface of the processor for other services and tests: the Parquet columns and the file-ready event.
export * from './transform/to-row.js';
export * from './sink/file-layout.js';
export * from './sink/file-event.js';
export { PARQUET_COMPRESSIONS, PARQUET_LIBRARIES, type ParquetCompression, type ParquetLibrary } from './sink/parquet-writer.js';
