#!/usr/bin/env node
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connectOrExplain, connectWatchedKafka, crashHooks, createProducer, ExpiredOffsetsGuard, LocalParquetStore, parseStoreLocation, retry, runService, ServiceError, volumeFreeGauge, withDeadlineOf, type Admin, type Kafka, type ParquetStore, type Producer, type RetryOptions, type ServiceContext } from '@cdc/core';
import { createGcpClients, ensureWarehouse, stagingBucket, gcpErrorInfo, isTransientGcpError, ObjectParquetStore, schemaProblems, warehouseNames, type File, type GcpClients, type WarehouseNames, type WarehouseReport } from '@cdc/core/gcp';
import { loaderConfigSchema, type LoaderConfig } from './config.js';
import { createLoaderMetrics, type LoaderMetrics } from './metrics.js';
import { FileGroups, type GroupLoader } from './file-groups.js';
import { loaderAcls, loaderTopics } from './topics.js';
import { LoadHealth } from './load-health.js';
import { LoadJobBudget, budgetWarning } from './budget/load-budget.js';
import { stagingPrefix } from './transform/job-id.js';
import { BigQueryLoader, type WaitLimits } from './sink/bigquery-load.js';
import { BigQueryWarehouse } from './sink/warehouse.js';
import { StorageWriteStaging } from './sink/storage-write.js';
import { storageWriteClient } from './sink/storage-write-client.js';
import { GcsStage } from './sink/gcs-stage.js';
import type { FileStore } from './sink/ports.js';
import { FileEventsSource } from './source/file-events.js';
import { DirectoryPollSource } from './source/directory-poll.js';
import { createTypedViewMetrics, TypedViews } from './views/typed-views.js';
import { SnapshotCompletions } from './snapshot-completions.js';
import { GroupLoad } from './load/group-load.js';
import { Quarantine } from './load/quarantine.js';
import { LOADER_CRASH_HOOKS, type LoaderFaultPoints } from './load/fault-points.js';

type Context = ServiceContext<LoaderConfig>;

/** Where the announced files are, and this loader's own directory (the budget records and snapshot markers). */
interface Input {
  store: ParquetStore & FileStore<File>;
  /** the shared tree itself for a local store (all instances see the same records), else this loader's working directory */
  stateDir: string;
}

/** What the group load writes to in Google Cloud, made or checked at start. */
interface GoogleCloud {
  clients: GcpClients;
  names: WarehouseNames;
  /** null: no usable bucket, files are loaded from the local disk; or the files are announced in a bucket (nothing staged) */
  stage: GcsStage | null;
  /** null: typed views switched off */
  views: TypedViews | null;
}

await runService('loader', loaderConfigSchema, startLoader, { topics: loaderTopics, acls: loaderAcls });

async function startLoader(ctx: Context): Promise<void> {
  const { config, ops } = ctx;
  const faults = crashHooks(LOADER_CRASH_HOOKS, ctx.config, ctx.logger);
  const metrics = createLoaderMetrics(ops.registry);
  const gcp = await prepareGoogleCloud(ctx, metrics);
  const input = await openInput(ctx, gcp);
  const local = input.store;
  if (local.kind === 'object') metrics.directLoads.set(0);
  // the dead-letter topic of quarantined files (both modes), the files topic (events mode)
  const { kafka, admin } = await connectWatchedKafka(ctx, loaderTopics(config));
  const deadLetters = await connectDeadLetters(ctx, kafka);
  const budget = await openLoadJobBudget(ctx, input.stateDir, gcp.names, metrics);
  const bigquery = new BigQueryLoader(gcp.clients.bigquery, gcp.names, config.BQ_LOCATION, ctx.logger, waitLimits(config));
  await dropStaleStagingTables(ctx, bigquery, gcp.names);
  const completions = await resumeSnapshotCompletions(ctx, input.stateDir, bigquery, gcp.names, metrics);
  const loader = createGroupLoad(ctx, { local, gcp, bigquery, budget, completions, deadLetters, metrics, faults });
  scheduleRetentionSweep(ctx, local);
  const groups = createFileGroups(ctx, loader, budget);
  if (config.LOADER_MODE === 'poll') return startPolling(ctx, local, groups);
  await consumeFileEvents(ctx, { kafka, admin, local, groups, metrics, stage: gcp.stage });
}

function waitLimits(config: LoaderConfig): WaitLimits {
  return { requestMs: config.LOADER_REQUEST_TIMEOUT_MS, jobMs: config.LOADER_JOB_TIMEOUT_MS };
}

function startupRetry(config: LoaderConfig): RetryOptions {
  return { isTransient: isTransientGcpError, maxAttempts: config.LOADER_RETRY_ATTEMPTS, baseDelayMs: config.LOADER_RETRY_BASE_MS, maxDelayMs: config.LOADER_RETRY_MAX_MS };
}

/**
 * The local tree (the processor's output directory), or the bucket prefix the processors upload to: then files load
 * straight from their objects, nothing is staged, and the staging bucket is not used.
 */
async function openInput({ config, ops, logger }: Context, gcp: GoogleCloud): Promise<Input> {
  const location = parseStoreLocation(config.LOADER_INPUT ?? config.LOADER_INPUT_DIR);
  const stateDir = location.kind === 'local' ? location.dir : config.LOADER_INPUT_DIR;
  await mkdir(stateDir, { recursive: true });
  // The loader only reads and moves files on the volume: its free space is reported, readiness is the processor's.
  volumeFreeGauge(stateDir, ops.registry, 'loader_volume_free_bytes');
  if (location.kind === 'local') return { store: new LocalParquetStore(location.dir), stateDir };
  const store = new ObjectParquetStore(gcp.clients.storage, { bucket: location.bucket, prefix: location.prefix, scratchDir: join(stateDir, '.copies'), resumableMinBytes: config.LOADER_RESUMABLE_MIN_BYTES, requestTimeoutMs: config.LOADER_REQUEST_TIMEOUT_MS, transferTimeoutMs: config.LOADER_JOB_TIMEOUT_MS });
  await retry(() => gcp.clients.storage.bucket(location.bucket).getMetadata(), startupRetry(config)).catch((error: unknown) => {
    const info = gcpErrorInfo(error);
    throw new Error(`LOADER_INPUT: bucket ${location.bucket} cannot be used: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}`);
  });
  // nothing is staged: the load jobs read the announced objects
  gcp.stage = null;
  logger.info({ input: store.location }, 'files load straight from their announced objects (nothing staged)');
  return { store, stateDir };
}

/** Google Cloud: dataset, tables and bucket made or checked first (idempotent; gcp-utils does the same). */
async function prepareGoogleCloud(ctx: Context, metrics: LoaderMetrics): Promise<GoogleCloud> {
  const { config, logger } = ctx;
  const clients = createGcpClients(config);
  const names = warehouseNames(config);
  logger.info({ project: clients.projectId, dataset: names.dataset, auth: clients.auth, bigquery: config.BIGQUERY_ENDPOINT ?? 'Google Cloud', storage: config.GCS_ENDPOINT ?? 'Google Cloud' }, 'connecting to Google Cloud');
  const report = await ensureTables(ctx, clients, names);
  const stage = stageOf(ctx, clients, report.bucket);
  metrics.directLoads.set(stage ? 0 : 1);
  return { clients, names, stage, views: await prepareTypedViews(ctx, clients, names) };
}

async function ensureTables({ config, logger }: Context, clients: GcpClients, names: WarehouseNames): Promise<WarehouseReport> {
  const staging = stagingBucket(config);
  const report = await retry(() => withDeadlineOf('preparing the dataset, tables and bucket', config.LOADER_REQUEST_TIMEOUT_MS, () => ensureWarehouse(clients, names, staging)), {
    ...startupRetry(config),
    onRetry: ({ attempt, error }) => logger.warn({ attempt, error: gcpErrorInfo(error) }, 'Google Cloud not reachable yet; retrying'),
  }).catch((error: unknown) => {
    // The summary only (no cause): client errors can carry request headers.
    const info = gcpErrorInfo(error);
    throw new Error(`cannot prepare BigQuery dataset ${names.dataset} and bucket ${staging?.name ?? '(none)'}: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}`);
  });
  const problems = schemaProblems(report);
  if (problems.length > 0) throw new Error(`the BigQuery tables do not have the expected columns (loads would fail): ${problems.join('; ')}`);
  logger.info({ dataset: report.dataset, tables: report.tables.map((t) => `${t.table}: ${t.status}`) }, 'BigQuery tables ready');
  return report;
}

/** The staging bucket when there is one Cloud Storage lets us use; else null: files are loaded from the local disk. */
function stageOf({ config, logger }: Context, clients: GcpClients, bucket: WarehouseReport['bucket']): GcsStage | null {
  if (!bucket) {
    logger.warn('GCS_BUCKET is empty: files are loaded straight from the local disk');
    return null;
  }
  if (bucket.status === 'refused') {
    logger.warn({ bucket: bucket.bucket, reason: bucket.reason }, 'the bucket cannot be used (refused by Cloud Storage): files are loaded straight from the local disk');
    return null;
  }
  logger.info({ bucket: bucket.bucket, status: bucket.status, warnings: bucket.warnings }, 'staging files in the bucket (ours)');
  return new GcsStage(clients.storage, bucket.bucket, config.LOADER_RESUMABLE_MIN_BYTES, waitLimits(config));
}

async function prepareTypedViews({ config, logger, ops }: Context, clients: GcpClients, names: WarehouseNames): Promise<TypedViews | null> {
  if (!config.LOADER_TYPED_VIEWS) return null;
  const views = new TypedViews(clients.bigquery, names, config.LOADER_VIEW_FIELDS_TABLE, config.BQ_LOCATION, createTypedViewMetrics(ops.registry), logger, config.LOADER_JOB_TIMEOUT_MS);
  await retry(() => views.ensure(), startupRetry(config));
  return views;
}


/** At-least-once is enough for reports of quarantined files (a retried send may repeat one). */
async function connectDeadLetters({ shutdown }: Context, kafka: Kafka): Promise<Producer> {
  const deadLetters = createProducer(kafka);
  await connectOrExplain('connect the dead-letter producer', () => deadLetters.connect());
  shutdown.register('dead-letter producer', () => deadLetters.disconnect());
  return deadLetters;
}

/** The daily load-job budget of the changes table, counted on the shared disk (all instances, across restarts). */
async function openLoadJobBudget({ config, logger, shutdown }: Context, stateDir: string, names: WarehouseNames, metrics: LoaderMetrics): Promise<LoadJobBudget> {
  const budget = new LoadJobBudget(join(stateDir, '.load-jobs', names.dataset, names.changesTable), `${hostname()}-${process.pid}-${Date.now()}`, config.LOADER_LOAD_JOBS_PER_DAY);
  await budget.open();
  metrics.watchBudget(() => budget.state());
  const budgetCheck = setInterval(() => {
    const warning = budgetWarning(budget.state());
    if (warning) logger.warn({ ...budget.state(), table: names.changesTable }, warning);
  }, 60_000);
  budgetCheck.unref();
  shutdown.register('budget check', () => clearInterval(budgetCheck));
  return budget;
}

/** Staging tables of attempts cut short by a crash (older than any running attempt); BigQuery also expires them. */
async function dropStaleStagingTables({ logger }: Context, bigquery: BigQueryLoader, names: WarehouseNames): Promise<void> {
  const stale = await bigquery.staleTables(stagingPrefix(names.changesTable), Date.now() - 3600_000).catch(() => []);
  for (const table of stale) await bigquery.dropTable(table).catch(() => undefined);
  if (stale.length > 0) logger.info({ dropped: stale.length }, 'dropped staging tables left by earlier crashes');
}

/** Snapshots that replaced a lost history whose deletes waited for their rows when the last run stopped. */
async function resumeSnapshotCompletions({ config, logger }: Context, stateDir: string, bigquery: BigQueryLoader, names: WarehouseNames, metrics: LoaderMetrics): Promise<SnapshotCompletions> {
  const completions = new SnapshotCompletions(join(stateDir, '.snapshot-completions', names.dataset, names.currentTable), bigquery, names, metrics, logger);
  await retry(() => completions.applyReady(), startupRetry(config)).catch((error: unknown) =>
    logger.warn({ error: gcpErrorInfo(error) }, 'deletes of a completed snapshot not applied yet; tried again after the next group'),
  );
  return completions;
}

function createGroupLoad(
  ctx: Context,
  sinks: { local: Input['store']; gcp: GoogleCloud; bigquery: BigQueryLoader; budget: LoadJobBudget; completions: SnapshotCompletions; deadLetters: Producer; metrics: LoaderMetrics; faults: LoaderFaultPoints },
): GroupLoader {
  const { config, logger, signal, addReadinessCheck } = ctx;
  const { local, gcp, metrics } = sinks;
  const health = new LoadHealth(metrics, config.NOT_READY_AFTER_MS);
  addReadinessCheck('load', () => health.problem());
  const retrySettings = { attempts: config.LOADER_RETRY_ATTEMPTS, baseMs: config.LOADER_RETRY_BASE_MS, maxMs: config.LOADER_RETRY_MAX_MS };
  // once the shutdown starts retries end: the file is not committed and comes again later
  const quarantine = new Quarantine({ local, deadLetters: sinks.deadLetters, metrics, logger, filesTopic: config.LOADER_FILES_TOPIC, retry: retrySettings, signal });
  return new GroupLoad({
    local,
    stage: gcp.stage,
    warehouse: new BigQueryWarehouse(sinks.bigquery, gcp.names, storageWriteOf(ctx, gcp.names)),
    budget: sinks.budget,
    views: gcp.views,
    completions: sinks.completions,
    quarantine,
    faults: sinks.faults,
    metrics,
    health,
    logger,
    retry: retrySettings,
    settings: { changesTable: gcp.names.changesTable, retentionHours: config.LOADER_LOADED_RETENTION_HOURS, stagingExpiryMs: config.LOADER_STAGING_EXPIRY_HOURS * 3600_000, staging: config.LOADER_STAGING },
    signal,
  });
}

/** storage-write: the Storage Write API client (closed at shutdown); null with load jobs. */
function storageWriteOf({ config, logger, shutdown }: Context, names: WarehouseNames): StorageWriteStaging | null {
  if (config.LOADER_STAGING !== 'storage-write') return null;
  const client = storageWriteClient(config);
  shutdown.register('storage write client', () => client.close());
  logger.info({ endpoint: config.LOADER_STORAGE_WRITE_ENDPOINT ?? 'Google Cloud' }, 'groups staged through the BigQuery Storage Write API (pending streams)');
  return new StorageWriteStaging(client, names);
}

/** Loaded files are kept for a while (for inspection or a reload), then removed. */
function scheduleRetentionSweep({ config, logger, shutdown }: Context, local: ParquetStore): void {
  const hours = config.LOADER_LOADED_RETENTION_HOURS;
  if (hours === 0) return;
  const sweep = () =>
    local
      .sweepLoaded(hours)
      .then((removed) => removed > 0 && logger.info({ removed }, 'removed loaded files past their retention'))
      .catch((error: unknown) => logger.warn({ err: error }, 'retention sweep failed'));
  void sweep();
  const timer = setInterval(sweep, Math.min(3600_000, hours * 900_000));
  timer.unref();
  shutdown.register('retention sweep', () => clearInterval(timer));
}

function createFileGroups({ config, logger, signal }: Context, loader: GroupLoader, budget: LoadJobBudget): FileGroups {
  const byWriteApi = config.LOADER_STAGING === 'storage-write';
  // Load jobs are paced by their daily budget; the write API uses none, so its groups start after their window.
  const windowMs = byWriteApi ? config.LOADER_STORAGE_WRITE_WINDOW_MS : config.LOADER_GROUP_WINDOW_MS;
  const groups = new FileGroups(loader, byWriteApi ? { nextStart: () => 0 } : budget, logger, {
    windowMs,
    maxFiles: config.LOADER_GROUP_MAX_FILES,
    maxBytes: config.LOADER_GROUP_MAX_BYTES,
    retryBaseMs: config.LOADER_RETRY_BASE_MS,
    retryMaxMs: config.LOADER_RETRY_MAX_MS,
  }, signal);
  logger.info(
    { windowMs, maxFiles: config.LOADER_GROUP_MAX_FILES, maxBytes: config.LOADER_GROUP_MAX_BYTES, staging: config.LOADER_STAGING, ...(byWriteApi ? {} : budget.state()) },
    byWriteApi
      ? 'files load in groups: one pending write stream, one insert and one MERGE per group, every window'
      : 'files load in groups: one load job and one MERGE per group, within the daily load-job budget',
  );
  return groups;
}

function startPolling({ config, logger, shutdown, signal, setReady }: Context, local: ParquetStore, groups: FileGroups): void {
  const poller = new DirectoryPollSource(local, groups, logger, { intervalMs: config.LOADER_POLL_INTERVAL_MS }, signal);
  shutdown.register('directory poll', () => poller.stop());
  // Runs before the source stops (steps run in reverse): files waiting for a group are handed back at once.
  shutdown.register('file groups', () => groups.stop());
  poller.start();
  logger.info({ input: local.location, intervalMs: config.LOADER_POLL_INTERVAL_MS }, 'loading files found by polling (at-least-once)');
  setReady(true);
}

/** The files the deleted events announced are still on the volume, among those not loaded: named for the operator. */
async function reportUnloadedFiles({ logger }: Context, local: ParquetStore, metrics: LoaderMetrics): Promise<void> {
  const files = await local.listPending();
  metrics.unloadedOnVolume.set(files.length);
  logger.error(
    { count: files.length, files: files.slice(0, 1000) },
    'files on the volume not loaded (those of the deleted file-ready events among them): a run with LOADER_MODE=poll loads them, a file loaded before adds nothing',
  );
}

/** Events mode: stops short of consuming when the committed offsets are below the log start (events deleted unread). */
async function consumeFileEvents(
  ctx: Context,
  { kafka, admin, local, groups, metrics, stage }: { kafka: Kafka; admin: Admin; local: ParquetStore; groups: FileGroups; metrics: LoaderMetrics; stage: GcsStage | null },
): Promise<void> {
  const { config, logger, shutdown, signal, setReady } = ctx;
  const expiredOffsets = expiredOffsetsGuard(ctx, admin, local);
  if (!(await expiredOffsets.offsetsStillInLog())) {
    await reportUnloadedFiles(ctx, local, metrics);
    // Up and not ready, naming the records lost, until the operator decides (the process lives on its servers).
    setReady(true);
    return;
  }
  const source = new FileEventsSource(kafka, groups, metrics, logger, {
    groupId: config.LOADER_GROUP_ID,
    filesTopic: config.LOADER_FILES_TOPIC,
    concurrency: config.LOADER_CONCURRENCY,
    sessionTimeoutMs: config.LOADER_SESSION_TIMEOUT_MS,
    // A full group's worth per partition in flight at most: memory stays bounded while a backlog loads.
    maxInFlightPerPartition: config.LOADER_GROUP_MAX_FILES,
    // Up and not ready, as when found at start: the files in flight finish loading and are committed first.
    onHalted: (halted) =>
      void expiredOffsets
        .checkHalted(halted, () => source.stop())
        .then((stopped) => (stopped ? reportUnloadedFiles(ctx, local, metrics) : undefined))
        .catch((error: unknown) => logger.warn({ err: error }, 'could not list the files on the volume')),
  }, (error) => ctx.fail(new ServiceError('a file could be neither loaded nor quarantined; stopping (it comes again after the restart)', { reason: 'file_not_loaded', cause: error })), signal);
  shutdown.register('files consumer', () => source.stop());
  shutdown.register('file groups', () => groups.stop());
  await connectOrExplain(`join consumer group ${config.LOADER_GROUP_ID}`, () => source.start());
  logger.info({ topic: config.LOADER_FILES_TOPIC, input: local.location, via: local.kind === 'object' ? 'announced objects' : stage ? `gs://${stage.bucketName}` : 'local files' }, 'loading announced files');
  // Runs until shutdown; librdkafka rejoins the group by itself after any group or broker failure.
  setReady(true);
}

function expiredOffsetsGuard({ config, logger, ops, addReadinessCheck }: Context, admin: Admin, local: ParquetStore): ExpiredOffsetsGuard {
  return new ExpiredOffsetsGuard(admin, { groupId: config.LOADER_GROUP_ID, topics: [config.LOADER_FILES_TOPIC], registry: ops.registry, metricName: 'loader_offsets_expired_records', logger, addReadinessCheck,
    // The files themselves stay on the volume: polling finds every file not yet under loaded/ (one loaded before adds nothing).
    afterReset: `the files whose events were deleted are still under ${local.location}: a run with LOADER_MODE=poll loads every file not yet under loaded/`,
  });
}
