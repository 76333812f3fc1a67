// Library surface of the processor for other services and tests: the Parquet columns and the file-ready event.
export * from './transform/to-row.js';
export * from './sink/file-layout.js';
export * from './sink/file-event.js';
export { PARQUET_COMPRESSIONS, PARQUET_WRITERS, type ParquetCompression, type ParquetWriterName } from './sink/parquet-writer.js';
// Writing files the way the processor does (tests and tools that need real Parquet files with their events).
export { FileStore } from './sink/file-store.js';
export { createParquetWriter } from './sink/parquet-writer.js';
export { batchStats } from './transform/batch.js';
// The rights a configuration needs (tests grant exactly these on a broker with ACLs).
export { processorConfigSchema } from './config.js';
export { processorAcls } from './topics.js';
