import type { File } from '@cdc/core/gcp';
import type { FileArea, ParquetStore } from '@cdc/core';
import type { StagedFile } from './gcs-stage.js';
import type { FileRange, TimeBounds } from './sql.js';
import type { JobCounter } from './bigquery-load.js';
import type { AppendProgress } from './storage-write.js';

// What the group load needs of its sinks (BigQuery, the staging bucket, the shared disk), so that it can be run
// against fakes. `O` is the bucket's handle of a staged object, which the load hands to the warehouse unread.

/** Where a load job reads a file: an object in the staging bucket, or the local file sent with the job. */
export type SourceOf<O> = { kind: 'gcs'; object: O } | { kind: 'local'; path: string };

/** The changes and current tables, and the staging tables that feed them (BigQueryWarehouse). */
export interface Warehouse<O = File> {
  /** an empty staging table, dropped by the warehouse itself after `expiresInMs` */
  createStaging(table: string, expiresInMs: number): Promise<void>;
  /** the files into the staging table, every load job counted first; throws PermanentFileError when the files are at fault */
  loadStaging(table: string, sources: readonly SourceOf<O>[], jobId: string, counter: JobCounter): Promise<void>;
  /**
   * The second staging method (LOADER_STAGING=storage-write): the rows of the local Parquet files appended to the
   * staging table through one pending write stream, committed at once; returns how many rows
   */
  appendStaging(table: string, paths: readonly string[], progress: AppendProgress): Promise<number>;
  /** already gone is fine */
  dropTable(table: string): Promise<void>;
  /** inserts into the changes table the staged records not already there; returns how many */
  insertNew(staging: string, bounds: TimeBounds | null): Promise<number>;
  /** applies the staged records to the current table; returns the current rows changed */
  mergeGroup(staging: string, bounds: TimeBounds | null): Promise<number>;
  /** how many of the file's records the changes table holds */
  rowsPresent(file: FileRange): Promise<number>;
}

/** The staging bucket (GcsStage): object names mirror the local relative paths. */
export interface StagingBucket<O = File> {
  readonly bucketName: string;
  uri(path: string): string;
  object(path: string): O;
  /** uploads unless the same content is there; throws PermanentFileError when the stored object differs */
  upload(localPath: string, file: StagedFile): Promise<'uploaded' | 'present'>;
  /** already gone is fine */
  remove(path: string): Promise<void>;
}

/**
 * The Parquet store the files are announced in (a local directory or a bucket prefix, `ParquetStore`): waiting,
 * loaded/ and quarantine/. A store of objects also hands out the object a load job reads straight from.
 */
export type FileStore<O = File> = Pick<ParquetStore, 'kind' | 'location' | 'address' | 'locate' | 'stat' | 'markLoaded' | 'quarantine' | 'quarantineNote' | 'localCopy'> & {
  object?(path: string, area?: FileArea, generation?: string | null): O;
};
