import type { Logger } from '@cdc/core';
import { changesTableColumns, gcpErrorInfo, isAlreadyExists, isNotFound, isTransientGcpError, type BigQuery, type File, type Job, type JobMetadata, type WarehouseNames } from '@cdc/core/gcp';
import { PermanentFileError, RetryableError } from './errors.js';
import type { Statement } from './sql.js';

/** Where a load reads a file: the staged object, or the local file uploaded with the job (no bucket). */
export type LoadSource = { kind: 'gcs'; object: File } | { kind: 'local'; path: string };

/** Counts load jobs against the daily budget (before each request). */
export interface JobCounter {
  take(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Job failures that are not the files' fault: quota, rate limits, backend trouble. Retried with backoff, never counted as loaded. */
const TRANSIENT_JOB_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'jobRateLimitExceeded', 'quotaExceeded', 'timeout', 'jobBackendError', 'jobInternalError']);

/** A load that failed because the destination is missing (dropped table): not the file's fault, retried. */
const WAREHOUSE_MISSING = /Not found: (Table|Dataset)\b/i;
/** The staged object is gone (real BigQuery: `Not found: URI gs://...`; emulator: `No files found that match`). */
const OBJECT_MISSING = /Not found: (URI|Files?)\b|No files found that match/i;

function failure(message: string, reason: string | null, cause?: unknown): Error {
  if (reason && TRANSIENT_JOB_REASONS.has(reason)) return new RetryableError(`load job failed (${reason}): ${message}`, { cause });
  if (WAREHOUSE_MISSING.test(message)) return new RetryableError(`destination missing: ${message}`, { cause });
  if (OBJECT_MISSING.test(message)) return new PermanentFileError('missing_object', message, { cause });
  return new PermanentFileError('load_failed', message, { cause });
}

/** Staging tables and their load jobs, the statements that apply them, all followed to their final state. */
export class BigQueryLoader {
  private warnedIgnoredJobId = false;

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly location: string,
    private readonly logger: Logger,
    private readonly pollMs = 500,
  ) {}

  private get dataset() {
    return this.bigquery.dataset(this.names.dataset);
  }

  private async waitDone(job: Job, first: JobMetadata | undefined): Promise<JobMetadata> {
    let metadata = first;
    let wait = this.pollMs / 2;
    while (metadata?.status?.state !== 'DONE') {
      await sleep(wait);
      wait = Math.min(wait * 2, 5000);
      try {
        [metadata] = await job.getMetadata();
      } catch (error) {
        // Jobs can take a moment to be visible right after their creation.
        if (!isNotFound(error)) throw error;
      }
    }
    return metadata;
  }

  /** An empty staging table with the changes table's columns; BigQuery drops it by itself after `expiresInMs` (left by a crash). */
  async createStaging(table: string, expiresInMs: number): Promise<void> {
    const schema = { fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) };
    try {
      await this.dataset.createTable(table, { schema, expirationTime: String(Date.now() + expiresInMs) });
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
  }

  /**
   * Loads the files into the staging table: from the bucket all in one job (a job takes many source URIs), from
   * the local disk one job per file (an upload carries one file). Every job is counted before it is requested and
   * followed to DONE; any error fails the whole attempt (the caller retries with a fresh staging table).
   */
  async loadStaging(table: string, sources: readonly LoadSource[], jobId: string, counter: JobCounter): Promise<void> {
    const configuration = {
      sourceFormat: 'PARQUET',
      writeDisposition: 'WRITE_APPEND',
      createDisposition: 'CREATE_NEVER',
      schema: { fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) },
      location: this.location,
    };
    const objects = sources.flatMap((s) => (s.kind === 'gcs' ? [s.object] : []));
    const inputs: (File[] | string)[] = [...(objects.length > 0 ? [objects] : []), ...sources.flatMap((s) => (s.kind === 'local' ? [s.path] : []))];
    for (const [index, input] of inputs.entries()) {
      const id = inputs.length === 1 ? jobId : `${jobId}_${index}`;
      await counter.take();
      let job: Job;
      try {
        [job] = await this.dataset.table(table).createLoadJob(input, { ...configuration, jobId: id });
      } catch (error) {
        if (isTransientGcpError(error)) throw error;
        // Some endpoints (the emulator) reject the request itself when the load fails.
        const info = gcpErrorInfo(error);
        throw failure(info.message, info.reason, error);
      }
      if (job.id !== id && !this.warnedIgnoredJobId) {
        this.warnedIgnoredJobId = true;
        this.logger.warn({ requested: id, got: job.id }, 'the BigQuery endpoint ignored the requested job id');
      }
      const metadata = await this.waitDone(job, job.metadata);
      const errorResult = metadata.status?.errorResult;
      if (errorResult) throw failure(errorResult.message ?? 'load job failed', errorResult.reason ?? null);
    }
  }

  async dropTable(table: string): Promise<void> {
    try {
      await this.dataset.table(table).delete();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Staging tables with the prefix created before `before` (epoch ms): left by crashed attempts. */
  async staleTables(prefix: string, before: number): Promise<string[]> {
    const [tables] = await this.dataset.getTables({ autoPaginate: true });
    return tables.filter((t) => t.id?.startsWith(prefix) && Number(t.metadata?.creationTime ?? before) < before).map((t) => t.id!);
  }

  /** Runs a DML statement; returns the affected row count. */
  async run(statement: Statement): Promise<number> {
    const [job] = await this.bigquery.createQueryJob({ query: statement.query, params: statement.params, types: statement.types, location: this.location });
    await job.getQueryResults({ maxResults: 0 });
    const [metadata] = await job.getMetadata();
    return Number(metadata.statistics?.query?.numDmlAffectedRows ?? 0);
  }

  /** Runs a query; returns its rows. */
  async rows(statement: Statement): Promise<Record<string, unknown>[]> {
    const [rows] = await this.bigquery.query({ query: statement.query, params: statement.params, types: statement.types, location: this.location });
    return rows as Record<string, unknown>[];
  }
}
