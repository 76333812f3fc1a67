import type { Logger } from '@cdc/core';
import { changesTableColumns, gcpErrorInfo, isAlreadyExists, isNotFound, isTransientGcpError, type BigQuery, type File, type Job, type JobMetadata, type WarehouseNames } from '@cdc/core/gcp';
import { attemptJobId } from '../transform/job-id.js';
import { PermanentFileError, RetryableError } from './errors.js';
import type { Statement } from './sql.js';

/** Where the load reads the file: the staged object, or the local file uploaded with the job (no bucket). */
export type LoadSource = { kind: 'gcs'; object: File } | { kind: 'local'; path: string };

export interface LoadOutcome {
  jobId: string;
  /** loaded now, or found loaded by an earlier job with the same id (duplicate event, retry after a crash) */
  status: 'loaded' | 'already-loaded';
  outputRows: number | null;
}

/** Distinct deterministic ids tried for one file before giving up on it (each used only after the previous failed). */
export const MAX_ATTEMPT_IDS = 10;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const TRANSIENT_JOB_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'jobRateLimitExceeded', 'quotaExceeded', 'timeout', 'jobBackendError', 'jobInternalError']);

/** A load that failed because the destination is missing (dropped table): not the file's fault, retried. */
const WAREHOUSE_MISSING = /Not found: (Table|Dataset)\b/i;
/** The staged object is gone (real BigQuery: `Not found: URI gs://...`; emulator: `No files found that match`). */
const OBJECT_MISSING = /Not found: (URI|Files?)\b|No files found that match/i;

function failure(message: string, cause?: unknown): Error {
  if (WAREHOUSE_MISSING.test(message)) return new RetryableError(`destination missing: ${message}`, { cause });
  if (OBJECT_MISSING.test(message)) return new PermanentFileError('missing_object', message, { cause });
  return new PermanentFileError('load_failed', message, { cause });
}

/** Load jobs with ids derived from the file (so a file is loaded at most once), and the MERGE into the current table. */
export class BigQueryLoader {
  private warnedIgnoredJobId = false;

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly location: string,
    private readonly logger: Logger,
    private readonly pollMs = 500,
  ) {}

  private get changesTable() {
    return this.bigquery.dataset(this.names.dataset).table(this.names.changesTable);
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

  /**
   * Loads the file with the job id `baseId` (attempt 1). A duplicate id (409) means the job already exists: done
   * and successful = the file is loaded; running = wait for it; failed = only then the next deterministic attempt
   * id. A failure of a job started here is permanent (the file is at fault) unless its reason is a backend one.
   */
  async load(source: LoadSource, baseId: string): Promise<LoadOutcome> {
    const configuration = {
      sourceFormat: 'PARQUET',
      writeDisposition: 'WRITE_APPEND',
      createDisposition: 'CREATE_NEVER',
      schema: { fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) },
      location: this.location,
    };
    for (let attempt = 1; attempt <= MAX_ATTEMPT_IDS; attempt++) {
      const jobId = attemptJobId(baseId, attempt);
      let job: Job;
      let created = true;
      try {
        const input = source.kind === 'gcs' ? source.object : source.path;
        [job] = await this.changesTable.createLoadJob(input, { ...configuration, jobId });
        if (job.id !== jobId && !this.warnedIgnoredJobId) {
          this.warnedIgnoredJobId = true;
          this.logger.warn({ requested: jobId, got: job.id }, 'the BigQuery endpoint ignored the requested job id: loads of this kind are not protected against duplicates here');
        }
      } catch (error) {
        if (isAlreadyExists(error)) {
          created = false;
          job = this.bigquery.job(jobId, { location: this.location });
        } else if (isTransientGcpError(error)) {
          throw error;
        } else {
          // Some endpoints (the emulator) reject the request itself when the load fails.
          const info = gcpErrorInfo(error);
          if (info.reason && TRANSIENT_JOB_REASONS.has(info.reason)) throw error;
          throw failure(info.message, error);
        }
      }
      const metadata = await this.waitDone(job, created ? job.metadata : undefined);
      const errorResult = metadata.status?.errorResult;
      const outputRows = metadata.statistics?.load?.outputRows;
      if (!errorResult) {
        return { jobId, status: created ? 'loaded' : 'already-loaded', outputRows: outputRows === undefined ? null : Number(outputRows) };
      }
      if (!created) {
        this.logger.warn({ jobId, error: errorResult.message }, 'an earlier load attempt of this file failed; trying the next attempt id');
        continue;
      }
      if (errorResult.reason && TRANSIENT_JOB_REASONS.has(errorResult.reason)) {
        this.logger.warn({ jobId, reason: errorResult.reason, error: errorResult.message }, 'load job failed in the backend; trying the next attempt id');
        continue;
      }
      throw failure(errorResult.message ?? 'load job failed');
    }
    throw new PermanentFileError('load_failed', `${MAX_ATTEMPT_IDS} load attempts failed`);
  }

  /** The id of a successful load of the file among its attempt ids, if any (to recognise a file whose local copy is gone). */
  async findLoaded(baseId: string): Promise<string | null> {
    for (let attempt = 1; attempt <= MAX_ATTEMPT_IDS; attempt++) {
      const jobId = attemptJobId(baseId, attempt);
      try {
        const [metadata] = await this.bigquery.job(jobId, { location: this.location }).getMetadata();
        if (metadata.status?.state === 'DONE' && !metadata.status.errorResult) return jobId;
      } catch (error) {
        if (isNotFound(error)) return null;
        throw error;
      }
    }
    return null;
  }

  /** Runs a DML statement; returns the affected row count. */
  async run(statement: Statement): Promise<number> {
    const [job] = await this.bigquery.createQueryJob({
      query: statement.query,
      params: statement.params,
      types: statement.types,
      location: this.location,
    });
    await job.getQueryResults({ maxResults: 0 });
    const [metadata] = await job.getMetadata();
    return Number(metadata.statistics?.query?.numDmlAffectedRows ?? 0);
  }
}
