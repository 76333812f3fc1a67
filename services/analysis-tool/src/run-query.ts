import { withTimeout } from '@cdc/core';
import type { BigQuery, Job, WarehouseNames } from '@cdc/core/gcp';
import { plainRows } from './format.js';
import type { ReadyQuery } from './queries.js';

/** What bounds one query: where it runs, what it may bill, how many rows come back, how long it may take. */
export interface QueryBounds {
  location: string;
  /** the job fails instead of billing more (maximumBytesBilled) */
  maximumBytesBilled: number;
  /** rows returned at most; the rest are not fetched (`truncated` says so). Unset: every row */
  maxRows?: number;
  /**
   * the whole query (job created, run, rows read) within this, else QueryTimeout and the job is cancelled; also the
   * job's own timeout at BigQuery. Unset: no limit
   */
  timeoutMs?: number;
}

export interface QueryResult {
  columns: string[];
  /** plain values (plainRows): timestamps as ISO text, INT64 as numbers while exact, else as text */
  rows: Record<string, unknown>[];
  /** more rows than maxRows */
  truncated: boolean;
  elapsedMs: number;
}

/** No answer within the time given (the endpoint did not answer, or the job ran too long). */
export class QueryTimeout extends Error {
  constructor(timeoutMs: number, what = 'no result') {
    super(`${what} within ${timeoutMs / 1000} s`);
    this.name = 'QueryTimeout';
  }
}

/** `work`, or QueryTimeout after `timeoutMs` (then `onTimeout` runs, e.g. to cancel the job). */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what?: string, onTimeout?: () => void): Promise<T> {
  return withTimeout(work, timeoutMs, () => new QueryTimeout(timeoutMs, what), onTimeout);
}

// INT64 as numbers while exact, else as strings
const wrapIntegers = { integerTypeCastFunction: (value: string) => (Number.isSafeInteger(Number(value)) ? Number(value) : value) };

/** Runs one statement as a query job in the dataset, within its bounds. */
export async function runQuery(bigquery: BigQuery, names: WarehouseNames, ready: ReadyQuery, bounds: QueryBounds): Promise<QueryResult> {
  const started = performance.now();
  let job: Job | undefined;
  let abandoned = false;
  const run = async (): Promise<QueryResult> => {
    [job] = await bigquery.createQueryJob({
      query: ready.query,
      ...(ready.params ? { params: ready.params } : {}),
      ...(ready.types ? { types: ready.types as Record<string, string> } : {}),
      location: bounds.location,
      maximumBytesBilled: String(bounds.maximumBytesBilled),
      defaultDataset: { projectId: names.project, datasetId: names.dataset },
      ...(bounds.timeoutMs !== undefined ? { jobTimeoutMs: bounds.timeoutMs } : {}),
    });
    const page = bounds.maxRows !== undefined ? { autoPaginate: false, maxResults: bounds.maxRows + 1 } : {};
    // the first page of rows (maxRows + 1 tell whether there are more); a page can come back before the job is
    // complete, empty: asked again until then, or until the deadline gave up
    while (!abandoned) {
      const [rows, , response] = (await job.getQueryResults({ ...page, wrapIntegers })) as unknown as [Record<string, unknown>[], unknown, { jobComplete?: boolean; schema?: { fields?: { name?: string }[] } } | undefined];
      if (response?.jobComplete === false) continue;
      const plain = plainRows(rows);
      const kept = bounds.maxRows !== undefined ? plain.slice(0, bounds.maxRows) : plain;
      const columns = response?.schema?.fields?.map((f) => f.name ?? '') ?? Object.keys(plain[0] ?? {});
      return { columns, rows: kept, truncated: kept.length < plain.length, elapsedMs: performance.now() - started };
    }
    throw new QueryTimeout(bounds.timeoutMs ?? 0);
  };
  if (bounds.timeoutMs === undefined) return run();
  return withDeadline(run(), bounds.timeoutMs, 'no result (the query was cancelled)', () => {
    abandoned = true;
    void job?.cancel().catch(() => undefined);
  });
}
