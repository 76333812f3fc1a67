import { randomUUID } from 'node:crypto';
import { DeadlineExceeded, poll, RetriableError, withDeadlineOf, type Logger } from '@cdc/core';
import { changesTableColumns, classifyGcpError, isAlreadyExists, isNotFound, type BigQuery, type File, type Job, type JobMetadata, type WarehouseNames } from '@cdc/core/gcp';
import { PermanentFileError } from './errors.js';
import type { Statement } from './sql.js';

/** Where a load reads a file: the staged object, or the local file uploaded with the job (no bucket). */
export type LoadSource = { kind: 'gcs'; object: File } | { kind: 'local'; path: string };

/** Counts load jobs against the daily budget (before each request). */
export interface JobCounter {
  take(): Promise<void>;
}

/**
 * A failed load is the files' fault only when BigQuery rejects them (invalid Parquet, a schema that does not match:
 * reason `invalid`) or a staged object is gone (asked of the bucket, not read from the message). Anything else —
 * quota, backend trouble, permission, billing, a refused KMS key, a missing dataset — is returned classified, to be
 * retried with the group held.
 */
async function loadFailure(error: unknown, objects: readonly File[]): Promise<Error> {
  const classified = classifyGcpError(error);
  // A duplicate job id (a request the client sent twice) says nothing about the files: the group is tried again.
  if (classified.fault === 'rejected' && !isAlreadyExists(classified)) return new PermanentFileError('load_failed', classified.message, { cause: classified });
  if (isNotFound(classified)) {
    const missing: string[] = [];
    for (const object of objects) if (!(await object.exists())[0]) missing.push(`gs://${object.bucket.name}/${object.name}`);
    if (missing.length > 0) return new PermanentFileError('missing_object', `${classified.message} (not in the bucket: ${missing.join(', ')})`, { cause: classified });
  }
  return classified;
}

/** How long the loader waits on BigQuery: one request, and a job (load or statement) from its creation to DONE. */
export interface WaitLimits {
  requestMs: number;
  jobMs: number;
}

/** Staging tables and their load jobs, the statements that apply them, all followed to their final state. */
export class BigQueryLoader {
  private warnedIgnoredJobId = false;
  /** statement jobs given up at their deadline that may still be running (and commit) */
  private abandonedStatements: Job[] = [];

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly location: string,
    private readonly logger: Logger,
    readonly limits: WaitLimits,
    private readonly pollMs = 500,
  ) {}

  private get dataset() {
    return this.bigquery.dataset(this.names.dataset);
  }

  /** One request, failed as DeadlineExceeded (transient) when BigQuery does not answer in time. */
  private request<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withDeadlineOf(`BigQuery ${what}`, this.limits.requestMs, call);
  }

  /**
   * Follows the job to DONE; past the job deadline it is cancelled (best effort: it may still finish, which the
   * callers make harmless) and DeadlineExceeded is thrown.
   */
  private waitDone(job: Job, first: JobMetadata | undefined): Promise<JobMetadata> {
    const read = async (): Promise<JobMetadata | undefined> => {
      try {
        return (await this.request(`job ${job.id} status`, () => job.getMetadata()))[0];
      } catch (error) {
        // Jobs can take a moment to be visible right after their creation.
        if (isNotFound(error)) return undefined;
        throw error;
      }
    };
    const abandoned = new AbortController();
    const done = poll(read, (metadata) => metadata.status?.state === 'DONE', { first, intervalMs: this.pollMs / 2, maxIntervalMs: 5000, signal: abandoned.signal });
    return withDeadlineOf(`BigQuery job ${job.id}`, this.limits.jobMs, () => done, () => {
      abandoned.abort(new DeadlineExceeded(`BigQuery job ${job.id}`, this.limits.jobMs));
      this.cancel(job);
    });
  }

  private cancel(job: Job): void {
    void this.request(`cancel of job ${job.id}`, () => job.cancel()).catch((error: unknown) => {
      this.logger.warn({ job: job.id, error: classifyGcpError(error).message }, 'job past its deadline not cancelled; it may still finish');
    });
    this.logger.warn({ job: job.id, deadlineMs: this.limits.jobMs }, 'job not done by its deadline: cancelled, the step fails and is retried');
  }

  /** An empty staging table with the changes table's columns; BigQuery drops it by itself after `expiresInMs` (left by a crash). */
  async createStaging(table: string, expiresInMs: number): Promise<void> {
    const schema = { fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) };
    try {
      await this.request(`creation of table ${table}`, () => this.dataset.createTable(table, { schema, expirationTime: String(Date.now() + expiresInMs) }));
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
      const inputObjects = typeof input === 'string' ? [] : input;
      let job: Job;
      try {
        // A local file is uploaded with the request: bounded as a job, not as a request.
        const limit = typeof input === 'string' ? this.limits.jobMs : this.limits.requestMs;
        [job] = await withDeadlineOf(`BigQuery load job ${id} creation`, limit, () => this.dataset.table(table).createLoadJob(input, { ...configuration, jobId: id }));
      } catch (error) {
        // Some endpoints (the emulator) reject the request itself when the load fails.
        throw await loadFailure(error, inputObjects);
      }
      if (job.id !== id && !this.warnedIgnoredJobId) {
        this.warnedIgnoredJobId = true;
        this.logger.warn({ requested: id, got: job.id }, 'the BigQuery endpoint ignored the requested job id');
      }
      const metadata = await this.waitDone(job, job.metadata);
      const errorResult = metadata.status?.errorResult;
      if (errorResult) throw await loadFailure({ reason: errorResult.reason, message: errorResult.message ?? 'load job failed' }, inputObjects);
    }
  }

  async dropTable(table: string): Promise<void> {
    try {
      await this.request(`deletion of table ${table}`, () => this.dataset.table(table).delete());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Staging tables with the prefix created before `before` (epoch ms): left by crashed attempts. */
  async staleTables(prefix: string, before: number): Promise<string[]> {
    const [tables] = await this.request('list of tables', () => this.dataset.getTables({ autoPaginate: true }));
    return tables.filter((t) => t.id?.startsWith(prefix) && Number(t.metadata?.creationTime ?? before) < before).map((t) => t.id!);
  }

  /**
   * Runs a DML statement, followed to DONE within the job deadline; returns the affected row count. A statement
   * past its deadline is cancelled but may still commit: the statements the loader runs are idempotent (insert of
   * the missing records, MERGE of the latest state), so running it again after the step's retry is harmless.
   */
  async run(statement: Statement): Promise<number> {
    await this.settleAbandoned();
    // Our own job id: a creation request without an answer may still have made the job, which is then asked for.
    const jobId = `cdc_statement_${randomUUID().replaceAll('-', '_')}`;
    let job: Job = this.bigquery.job(jobId, { location: this.location });
    let metadata: JobMetadata;
    try {
      [job] = await this.request('query job creation', () => this.bigquery.createQueryJob({ query: statement.query, params: statement.params, types: statement.types, location: this.location, jobId }));
      metadata = await this.waitDone(job, job.metadata);
    } catch (error) {
      if (error instanceof DeadlineExceeded) this.abandonedStatements.push(job);
      throw error;
    }
    const errorResult = metadata.status?.errorResult;
    if (errorResult) throw classifyGcpError({ reason: errorResult.reason, message: errorResult.message ?? 'statement failed' });
    return Number(metadata.statistics?.query?.numDmlAffectedRows ?? 0);
  }

  /**
   * No statement starts while one given up may still commit: two inserts of the missing records running at the same
   * time would both find the same records missing. A job still running fails the step (transient, retried later).
   */
  private async settleAbandoned(): Promise<void> {
    for (const job of [...this.abandonedStatements]) {
      // not found: its creation request never reached BigQuery
      const metadata = await this.request(`job ${job.id} status`, () => job.getMetadata()).then(
        ([found]) => found,
        (error: unknown) => {
          if (isNotFound(error)) return null;
          throw error;
        },
      );
      if (metadata && metadata.status?.state !== 'DONE') throw new RetriableError(`BigQuery statement job ${job.id}, given up at its deadline, is still running: no other statement starts before it ends`, { reason: 'statement_still_running' });
      this.abandonedStatements = this.abandonedStatements.filter((j) => j !== job);
    }
  }

  /** Runs a query within the job deadline; returns its rows. */
  async rows(statement: Statement): Promise<Record<string, unknown>[]> {
    let job: Job | undefined;
    const query = async () => {
      [job] = await this.bigquery.createQueryJob({ query: statement.query, params: statement.params, types: statement.types, location: this.location });
      return (await job.getQueryResults())[0];
    };
    const rows = await withDeadlineOf('BigQuery query', this.limits.jobMs, query, () => job && this.cancel(job));
    return rows as Record<string, unknown>[];
  }
}
