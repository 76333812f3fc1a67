import { withDeadlineOf } from '@cdc/core';
import type { File, WarehouseNames } from '@cdc/core/gcp';
import type { BigQueryLoader, JobCounter, LoadSource } from './bigquery-load.js';
import { buildInsertNew, buildMergeGroup, buildRangeCount, type FileRange, type TimeBounds } from './sql.js';
import type { Warehouse } from './ports.js';
import type { AppendProgress, StorageWriteStaging } from './storage-write.js';

/** The warehouse of the group load in BigQuery: the statements of `sql.ts` run by the loader's BigQuery client. */
export class BigQueryWarehouse implements Warehouse<File> {
  constructor(
    private readonly bigquery: BigQueryLoader,
    private readonly names: WarehouseNames,
    /** null: LOADER_STAGING=load-job */
    private readonly storageWrite: StorageWriteStaging | null = null,
  ) {}

  createStaging(table: string, expiresInMs: number): Promise<void> {
    return this.bigquery.createStaging(table, expiresInMs);
  }

  loadStaging(table: string, sources: readonly LoadSource[], jobId: string, counter: JobCounter): Promise<void> {
    return this.bigquery.loadStaging(table, sources, jobId, counter);
  }

  appendStaging(table: string, paths: readonly string[], progress: AppendProgress): Promise<number> {
    if (!this.storageWrite) throw new Error('the Storage Write API is not set up (LOADER_STAGING=load-job)');
    const storageWrite = this.storageWrite;
    return withDeadlineOf(`Storage Write API append to ${table}`, this.bigquery.limits.jobMs, () => storageWrite.writeStaging(table, paths, progress));
  }

  dropTable(table: string): Promise<void> {
    return this.bigquery.dropTable(table);
  }

  insertNew(staging: string, bounds: TimeBounds | null): Promise<number> {
    return this.bigquery.run(buildInsertNew(this.names, staging, bounds));
  }

  mergeGroup(staging: string, bounds: TimeBounds | null): Promise<number> {
    return this.bigquery.run(buildMergeGroup(this.names, staging, bounds));
  }

  async rowsPresent(file: FileRange): Promise<number> {
    const [row] = await this.bigquery.rows(buildRangeCount(this.names, file));
    return Number(row?.present ?? 0);
  }
}
