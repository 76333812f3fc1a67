#!/usr/bin/env node
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connectOrExplain, createKafka, createProducer, ensureTopicsWithRetry, ExpiredOffsetsGuard, kafkaSettingsOf, retry, runService, volumeFreeGauge, watchKafkaReachability } from '@cdc/core';
import { createGcpClients, ensureWarehouse, stagingBucket, gcpErrorInfo, isTransientGcpError, schemaProblems, warehouseNames } from '@cdc/core/gcp';
import { loaderConfigSchema } from './config.js';
import { createLoaderMetrics } from './metrics.js';
import { FileLoader } from './file-loader.js';
import { FileGroups } from './file-groups.js';
import { LoadHealth } from './load-health.js';
import { LoadJobBudget, budgetWarning } from './budget/load-budget.js';
import { stagingPrefix } from './transform/job-id.js';
import { BigQueryLoader } from './sink/bigquery-load.js';
import { GcsStage } from './sink/gcs-stage.js';
import { LocalFiles } from './sink/local-files.js';
import { FileEventsSource } from './source/file-events.js';
import { DirectoryPollSource } from './source/directory-poll.js';
import { createTypedViewMetrics, TypedViews } from './views/typed-views.js';
import { SnapshotCompletions } from './snapshot-completions.js';
import { loaderAcls, loaderTopics } from './topics.js';

await runService('loader', loaderConfigSchema, async ({ config, logger, ops, shutdown, setReady, addReadinessCheck, fail }) => {
  const crashAfter = {
    upload: config.LOADER_TEST_CRASH_AFTER_UPLOAD,
    load: config.LOADER_TEST_CRASH_AFTER_LOAD,
    insert: config.LOADER_TEST_CRASH_AFTER_INSERT,
    merge: config.LOADER_TEST_CRASH_AFTER_MERGE,
    snapshot_deletes: config.LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES,
    mark: config.LOADER_TEST_CRASH_AFTER_MARK,
  };
  if (Object.values(crashAfter).some((n) => n > 0)) logger.warn('test fault-injection hooks are set: this process will SIGKILL itself');
  const metrics = createLoaderMetrics(ops.registry);
  const local = new LocalFiles(config.LOADER_INPUT_DIR);
  await mkdir(local.root, { recursive: true });
  // The loader only reads and moves files on the volume: its free space is reported, readiness is the processor's.
  volumeFreeGauge(local.root, ops.registry, 'loader_volume_free_bytes');

  // Google Cloud: dataset, tables and bucket made or checked first (idempotent; gcp-utils does the same).
  const clients = createGcpClients(config);
  const names = warehouseNames(config);
  logger.info({ project: clients.projectId, dataset: names.dataset, auth: clients.auth, bigquery: config.BIGQUERY_ENDPOINT ?? 'Google Cloud', storage: config.GCS_ENDPOINT ?? 'Google Cloud' }, 'connecting to Google Cloud');
  const staging = stagingBucket(config);
  const report = await retry(() => ensureWarehouse(clients, names, staging), {
    isTransient: isTransientGcpError,
    maxAttempts: config.LOADER_RETRY_ATTEMPTS,
    baseDelayMs: config.LOADER_RETRY_BASE_MS,
    maxDelayMs: config.LOADER_RETRY_MAX_MS,
    onRetry: ({ attempt, error }) => logger.warn({ attempt, error: gcpErrorInfo(error) }, 'Google Cloud not reachable yet; retrying'),
  }).catch((error: unknown) => {
    // The summary only (no cause): client errors can carry request headers.
    const info = gcpErrorInfo(error);
    throw new Error(`cannot prepare BigQuery dataset ${names.dataset} and bucket ${staging?.name ?? '(none)'}: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}`);
  });
  const problems = schemaProblems(report);
  if (problems.length > 0) throw new Error(`the BigQuery tables do not have the expected columns (loads would fail): ${problems.join('; ')}`);
  logger.info({ dataset: report.dataset, tables: report.tables.map((t) => `${t.table}: ${t.status}`) }, 'BigQuery tables ready');
  let stage: GcsStage | null = null;
  if (!report.bucket) {
    logger.warn('GCS_BUCKET is empty: files are loaded straight from the local disk');
  } else if (report.bucket.status === 'refused') {
    logger.warn({ bucket: report.bucket.bucket, reason: report.bucket.reason }, 'the bucket cannot be used (refused by Cloud Storage): files are loaded straight from the local disk');
  } else {
    stage = new GcsStage(clients.storage, report.bucket.bucket, config.LOADER_RESUMABLE_MIN_BYTES);
    logger.info({ bucket: report.bucket.bucket, status: report.bucket.status, warnings: report.bucket.warnings }, 'staging files in the bucket (ours)');
  }
  metrics.directLoads.set(stage ? 0 : 1);
  let views: TypedViews | null = null;
  if (config.LOADER_TYPED_VIEWS) {
    views = new TypedViews(clients.bigquery, names, config.LOADER_VIEW_FIELDS_TABLE, config.BQ_LOCATION, createTypedViewMetrics(ops.registry), logger);
    await retry(() => views!.ensure(), { isTransient: isTransientGcpError, maxAttempts: config.LOADER_RETRY_ATTEMPTS, baseDelayMs: config.LOADER_RETRY_BASE_MS, maxDelayMs: config.LOADER_RETRY_MAX_MS });
  }

  // Kafka: the dead-letter topic of quarantined files (both modes), the files topic (events mode).
  const kafka = createKafka(kafkaSettingsOf(config, logger, fail));
  const admin = kafka.admin();
  await admin.connect();
  shutdown.register('kafka admin', () => admin.disconnect());
  const reachability = watchKafkaReachability(admin, logger, { notReadyAfterMs: config.NOT_READY_AFTER_MS });
  shutdown.register('kafka reachability', () => reachability.stop());
  addReadinessCheck('kafka', reachability.check);
  await connectOrExplain(`reach Kafka brokers ${config.KAFKA_BROKERS.join(',')}`, () =>
    ensureTopicsWithRetry(admin, loaderTopics(config), { attempts: config.KAFKA_CONNECT_RETRIES + 1, logger }),
  );
  // At-least-once is enough for reports of quarantined files (a retried send may repeat one).
  const deadLetters = createProducer(kafka);
  await connectOrExplain('connect the dead-letter producer', () => deadLetters.connect());
  shutdown.register('dead-letter producer', () => deadLetters.disconnect());

  // The daily load-job budget of the changes table, counted on the shared disk (all instances, across restarts).
  const budget = new LoadJobBudget(join(local.root, '.load-jobs', names.dataset, names.changesTable), `${hostname()}-${process.pid}-${Date.now()}`, config.LOADER_LOAD_JOBS_PER_DAY);
  await budget.open();
  metrics.watchBudget(() => budget.state());
  const budgetCheck = setInterval(() => {
    const warning = budgetWarning(budget.state());
    if (warning) logger.warn({ ...budget.state(), table: names.changesTable }, warning);
  }, 60_000);
  budgetCheck.unref();
  shutdown.register('budget check', () => clearInterval(budgetCheck));

  const bigquery = new BigQueryLoader(clients.bigquery, names, config.BQ_LOCATION, logger);
  // Staging tables of attempts cut short by a crash (older than any running attempt); BigQuery also expires them.
  const stale = await bigquery.staleTables(stagingPrefix(names.changesTable), Date.now() - 3600_000).catch(() => []);
  for (const table of stale) await bigquery.dropTable(table).catch(() => undefined);
  if (stale.length > 0) logger.info({ dropped: stale.length }, 'dropped staging tables left by earlier crashes');

  // Snapshots that replaced a lost history whose deletes waited for their rows when the last run stopped.
  const completions = new SnapshotCompletions(join(local.root, '.snapshot-completions', names.dataset, names.currentTable), bigquery, names, metrics, logger);
  await retry(() => completions.applyReady(), {
    isTransient: isTransientGcpError,
    maxAttempts: config.LOADER_RETRY_ATTEMPTS,
    baseDelayMs: config.LOADER_RETRY_BASE_MS,
    maxDelayMs: config.LOADER_RETRY_MAX_MS,
  }).catch((error: unknown) => logger.warn({ error: gcpErrorInfo(error) }, 'deletes of a completed snapshot not applied yet; tried again after the next group'));

  const health = new LoadHealth(metrics, config.NOT_READY_AFTER_MS);
  addReadinessCheck('load', () => health.problem());
  const loader = new FileLoader({
    local,
    stage,
    bigquery,
    budget,
    views,
    completions,
    deadLetters,
    metrics,
    health,
    logger,
    settings: {
      names,
      filesTopic: config.LOADER_FILES_TOPIC,
      retentionHours: config.LOADER_LOADED_RETENTION_HOURS,
      retry: { attempts: config.LOADER_RETRY_ATTEMPTS, baseMs: config.LOADER_RETRY_BASE_MS, maxMs: config.LOADER_RETRY_MAX_MS },
      stagingExpiryMs: config.LOADER_STAGING_EXPIRY_HOURS * 3600_000,
      crashAfter,
    },
    // true from the first shutdown step on: retries end, the file is not committed and comes again later
    isStopping: () => shutdown.requested,
  });

  // Loaded files are kept for a while (for inspection or a reload), then removed.
  if (config.LOADER_LOADED_RETENTION_HOURS > 0) {
    const sweep = () =>
      local
        .sweepLoaded(config.LOADER_LOADED_RETENTION_HOURS)
        .then((removed) => removed > 0 && logger.info({ removed }, 'removed loaded files past their retention'))
        .catch((error: unknown) => logger.warn({ err: error }, 'retention sweep failed'));
    void sweep();
    const timer = setInterval(sweep, Math.min(3600_000, config.LOADER_LOADED_RETENTION_HOURS * 900_000));
    timer.unref();
    shutdown.register('retention sweep', () => clearInterval(timer));
  }

  const groups = new FileGroups(loader, budget, logger, {
    windowMs: config.LOADER_GROUP_WINDOW_MS,
    maxFiles: config.LOADER_GROUP_MAX_FILES,
    maxBytes: config.LOADER_GROUP_MAX_BYTES,
    retryBaseMs: config.LOADER_RETRY_BASE_MS,
    retryMaxMs: config.LOADER_RETRY_MAX_MS,
  });
  logger.info(
    { windowMs: config.LOADER_GROUP_WINDOW_MS, maxFiles: config.LOADER_GROUP_MAX_FILES, maxBytes: config.LOADER_GROUP_MAX_BYTES, ...budget.state() },
    'files load in groups: one load job and one MERGE per group, within the daily load-job budget',
  );

  if (config.LOADER_MODE === 'poll') {
    const poller = new DirectoryPollSource(local, groups, logger, { intervalMs: config.LOADER_POLL_INTERVAL_MS });
    shutdown.register('directory poll', () => poller.stop());
    // Runs before the source stops (steps run in reverse): files waiting for a group are handed back at once.
    shutdown.register('file groups', () => groups.stop());
    poller.start();
    logger.info({ input: local.root, intervalMs: config.LOADER_POLL_INTERVAL_MS }, 'loading files found by polling (at-least-once)');
    setReady(true);
    await new Promise<never>(() => undefined);
  }

  const expiredOffsets = new ExpiredOffsetsGuard(admin, { groupId: config.LOADER_GROUP_ID, topics: [config.LOADER_FILES_TOPIC], registry: ops.registry, metricName: 'loader_offsets_expired_records', logger, addReadinessCheck,
    // The files themselves stay on the volume: polling finds every file not yet under loaded/ (one loaded before adds nothing).
    afterReset: `the files whose events were deleted are still under ${local.root}: a run with LOADER_MODE=poll loads every file not yet under loaded/`,
  });
  // The files the deleted events announced are still on the volume, among those not loaded: named for the operator.
  const reportUnloadedFiles = async () => {
    const files = await local.listPending();
    metrics.unloadedOnVolume.set(files.length);
    logger.error(
      { count: files.length, files: files.slice(0, 1000) },
      'files on the volume not loaded (those of the deleted file-ready events among them): a run with LOADER_MODE=poll loads them, a file loaded before adds nothing',
    );
  };
  if (!(await expiredOffsets.offsetsStillInLog())) {
    await reportUnloadedFiles();
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
        .then((stopped) => (stopped ? reportUnloadedFiles() : undefined))
        .catch((error: unknown) => logger.warn({ err: error }, 'could not list the files on the volume')),
  }, (error) => {
    logger.fatal({ err: error }, 'a file could be neither loaded nor quarantined; stopping (it comes again after the restart)');
    void shutdown.run(1);
  });
  shutdown.register('files consumer', () => source.stop());
  shutdown.register('file groups', () => groups.stop());
  await connectOrExplain(`join consumer group ${config.LOADER_GROUP_ID}`, () => source.start());
  logger.info({ topic: config.LOADER_FILES_TOPIC, input: local.root, via: stage ? `gs://${stage.bucketName}` : 'local files' }, 'loading announced files');
  // Runs until shutdown; librdkafka rejoins the group by itself after any group or broker failure.
  setReady(true);
}, { topics: loaderTopics, acls: loaderAcls });
