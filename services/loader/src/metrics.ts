import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BudgetState } from './budget/load-budget.js';

export function createLoaderMetrics(registry: Registry) {
  const newestLoaded = new Map<string, number>();
  let budget: (() => BudgetState) | null = null;
  let failingSeconds: (() => number) | null = null;
  const budgetGauge = (name: string, help: string, value: (s: BudgetState) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        if (budget) this.set(value(budget()));
      },
    });
  const metrics = {
    filesLoaded: new Counter({ name: 'loader_files_loaded_total', help: 'Files loaded into the changes table and merged into the current table', labelNames: ['topic'], registers: [registry] }),
    rowsLoaded: new Counter({ name: 'loader_rows_loaded_total', help: 'Rows inserted into the changes table', registers: [registry] }),
    rowsAlreadyPresent: new Counter({
      name: 'loader_rows_already_present_total',
      help: 'Rows of loaded groups found already in the changes table (a group done again after a crash): skipped',
      registers: [registry],
    }),
    alreadyLoaded: new Counter({
      name: 'loader_files_already_loaded_total',
      help: 'Files found already loaded (duplicate event, retry after a crash): not loaded again',
      labelNames: ['topic', 'how'],
      registers: [registry],
    }),
    snapshotDeletes: new Counter({
      name: 'loader_snapshot_deletes_total',
      help: 'Documents deleted from the current table because a snapshot that replaced a lost history did not see them',
      registers: [registry],
    }),
    snapshotsWaiting: new Gauge({
      name: 'loader_snapshot_completions_waiting',
      help: 'Snapshots that replaced a lost history whose marker is loaded but not all their rows yet: their deletes wait',
      registers: [registry],
    }),
    quarantined: new Counter({ name: 'loader_files_quarantined_total', help: 'Files quarantined (moved to quarantine/, reported on the dead-letter topic)', labelNames: ['topic', 'reason'], registers: [registry] }),
    loadFailures: new Counter({
      name: 'loader_load_failures_total',
      help: 'Failed attempts of a group step, by fault (transient, downstream, rejected) and reason (quotaExceeded, accessDenied, ...)',
      labelNames: ['fault', 'reason'],
      registers: [registry],
    }),
    failing: new Gauge({
      name: 'loader_load_failing_seconds',
      help: 'How long loading has been failing (0 while groups load): its files are held, neither loaded nor committed',
      registers: [registry],
      collect() {
        if (failingSeconds) this.set(failingSeconds());
      },
    }),
    retries: new Counter({ name: 'loader_retries_total', help: 'Retries after transient errors (quota and rate limits included)', labelNames: ['step'], registers: [registry] }),
    groupSeconds: new Histogram({
      name: 'loader_group_seconds',
      help: 'Time to load one group: checks, uploads, load job, insert, MERGE, marking',
      buckets: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    groupFiles: new Histogram({ name: 'loader_group_files', help: 'Files per loaded group (one load job each)', buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000], registers: [registry] }),
    readyToVisibleSeconds: new Histogram({
      name: 'loader_ready_to_visible_seconds',
      help: 'From the file-ready event to the file rows visible in both tables',
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers: [registry],
    }),
    appendedBytes: new Counter({
      name: 'loader_appended_bytes_total',
      help: 'storage-write: bytes appended through the Storage Write API, by BigQuery data-size rules (what it bills past its free tier of 2 TiB a month)',
      registers: [registry],
    }),
    appendedRows: new Counter({ name: 'loader_appended_rows_total', help: 'storage-write: rows appended through the Storage Write API (attempts cut short included)', registers: [registry] }),
    appendRequests: new Counter({ name: 'loader_append_requests_total', help: 'storage-write: AppendRows requests acknowledged (each under the 10 MB request limit)', registers: [registry] }),
    dmlSeconds: new Histogram({
      name: 'loader_dml_seconds',
      help: 'Time of one insert or MERGE into the tables, queueing included (BigQuery runs few mutating statements per table at once and queues the rest)',
      labelNames: ['statement'],
      buckets: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers: [registry],
    }),
    jobsToday: budgetGauge('loader_load_jobs_today', 'Load jobs into the changes table started today (BigQuery quota day, all instances)', (s) => s.usedToday),
    jobsProjected: budgetGauge('loader_load_jobs_projected', "Today's load jobs projected from the last hour's rate", (s) => s.projected),
    jobsBudget: budgetGauge('loader_load_jobs_budget', 'Daily load-job budget of the changes table (LOADER_LOAD_JOBS_PER_DAY)', (s) => s.limit),
    unloadedOnVolume: new Gauge({
      name: 'loader_unloaded_files_on_volume',
      help: 'Parquet files on the volume not loaded, counted when file-ready events were found deleted by retention (their files are among these)',
      registers: [registry],
    }),
    consumerLag: new Gauge({ name: 'loader_consumer_lag', help: 'Files-topic high watermark minus the committed offset, per partition', labelNames: ['topic', 'partition'], registers: [registry] }),
    freshness: new Gauge({
      name: 'loader_freshness_seconds',
      help: 'Now minus the newest cluster time loaded (how far the warehouse is behind MongoDB)',
      labelNames: ['topic'],
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const [topic, newest] of newestLoaded) this.set({ topic }, (now - newest) / 1000);
      },
    }),
    directLoads: new Gauge({ name: 'loader_direct_mode', help: '1 when files are loaded straight from the local disk (no usable bucket)', registers: [registry] }),
    /** records the newest cluster time loaded for a topic */
    noteLoaded(topic: string, maxClusterTime: string | null): void {
      if (!maxClusterTime) return;
      const t = Date.parse(maxClusterTime);
      if (!Number.isNaN(t) && t > (newestLoaded.get(topic) ?? 0)) newestLoaded.set(topic, t);
    },
    /** how long loading has been failing, for its gauge */
    watchFailing(seconds: () => number): void {
      failingSeconds = seconds;
    },
    /** the budget the load-job gauges report */
    watchBudget(state: () => BudgetState): void {
      budget = state;
    },
  };
  return metrics;
}

export type LoaderMetrics = ReturnType<typeof createLoaderMetrics>;
