// Google Cloud (BigQuery + Cloud Storage) for the loader, gcp-utils and the analysis tool. A separate entry point
// (`@cdc/core/gcp`) so that services without Google Cloud never load its client libraries.
export * from './settings.js';
export * from './clients.js';
export * from './errors.js';
export * from './warehouse.js';
// Client types for the users of this module (they depend on @cdc/core only).
export type { BigQuery, Dataset, Job, JobMetadata, Query, QueryRowsResponse, TableField, TableMetadata } from '@google-cloud/bigquery';
export type { Bucket, File, Storage } from '@google-cloud/storage';
export * from './typed-views/index.js';
export * from './object-store.js';
