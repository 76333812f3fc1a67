// The warehouse contract: what a Parquet file holds and how it is named and announced.
export * from './columns.js';
export * from './layout.js';
export * from './file-event.js';
export * from './checksum.js';
export * from './parquet-library.js';
export * from './volume.js';
export * from './store.js';
export * from './location.js';
