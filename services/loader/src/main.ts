#!/usr/bin/env node
import { mkdir } from 'node:fs/promises';
import { connectOrExplain, createKafka, ensureTopics, javaCompatiblePartitioner, retry, runService, topicWithDeadLetter } from '@cdc/core';
import { createGcpClients, ensureWarehouse, gcpErrorInfo, isTransientGcpError, schemaProblems, warehouseNames } from '@cdc/core/gcp';
import { loaderConfigSchema } from './config.js';
import { createLoaderMetrics } from './metrics.js';
import { FileLoader } from './file-loader.js';
import { BigQueryLoader } from './sink/bigquery-load.js';
import { GcsStage } from './sink/gcs-stage.js';
import { LocalFiles } from './sink/local-files.js';
import { FileEventsSource } from './source/file-events.js';
import { DirectoryPollSource } from './source/directory-poll.js';

await runService('loader', loaderConfigSchema, async ({ config, logger, ops, shutdown, setReady }) => {
  const crashAfter = { upload: config.LOADER_TEST_CRASH_AFTER_UPLOAD, load: config.LOADER_TEST_CRASH_AFTER_LOAD, mark: config.LOADER_TEST_CRASH_AFTER_MARK };
  if (crashAfter.upload || crashAfter.load || crashAfter.mark) logger.warn('test fault-injection hooks are set: this process will SIGKILL itself');
  const metrics = createLoaderMetrics(ops.registry);
  const local = new LocalFiles(config.LOADER_INPUT_DIR);
  await mkdir(local.root, { recursive: true });

  // Google Cloud: dataset, tables and bucket made or checked first (idempotent; gcp-utils does the same).
  const clients = createGcpClients(config);
  const names = warehouseNames(config);
  logger.info({ project: clients.projectId, dataset: names.dataset, auth: clients.auth, bigquery: config.BIGQUERY_ENDPOINT ?? 'Google Cloud', storage: config.GCS_ENDPOINT ?? 'Google Cloud' }, 'connecting to Google Cloud');
  const report = await retry(() => ensureWarehouse(clients, names, config.GCS_BUCKET), {
    isTransient: isTransientGcpError,
    maxAttempts: config.LOADER_RETRY_ATTEMPTS,
    baseDelayMs: config.LOADER_RETRY_BASE_MS,
    maxDelayMs: config.LOADER_RETRY_MAX_MS,
    onRetry: ({ attempt, error }) => logger.warn({ attempt, error: gcpErrorInfo(error) }, 'Google Cloud not reachable yet; retrying'),
  }).catch((error: unknown) => {
    // The summary only (no cause): client errors can carry request headers.
    const info = gcpErrorInfo(error);
    throw new Error(`cannot prepare BigQuery dataset ${names.dataset} and bucket ${config.GCS_BUCKET ?? '(none)'}: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}`);
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
    logger.info({ bucket: report.bucket.bucket, status: report.bucket.status }, 'staging files in the bucket');
  }
  metrics.directLoads.set(stage ? 0 : 1);

  // Kafka: the dead-letter topic of quarantined files (both modes), the files topic (events mode).
  const kafka = createKafka({ brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger, retries: config.KAFKA_CONNECT_RETRIES });
  const admin = kafka.admin();
  await connectOrExplain(`reach Kafka brokers ${config.KAFKA_BROKERS.join(',')}`, () => admin.connect());
  shutdown.register('kafka admin', () => admin.disconnect());
  await ensureTopics(admin, topicWithDeadLetter(config.LOADER_FILES_TOPIC, 'files', config));
  // At-least-once is enough for reports of quarantined files (a retried send may repeat one).
  const deadLetters = kafka.producer({ allowAutoTopicCreation: false, createPartitioner: javaCompatiblePartitioner });
  await connectOrExplain('connect the dead-letter producer', () => deadLetters.connect());
  shutdown.register('dead-letter producer', () => deadLetters.disconnect());

  const loader = new FileLoader({
    local,
    stage,
    bigquery: new BigQueryLoader(clients.bigquery, names, config.BQ_LOCATION, logger),
    deadLetters,
    metrics,
    logger,
    settings: {
      names,
      filesTopic: config.LOADER_FILES_TOPIC,
      retentionHours: config.LOADER_LOADED_RETENTION_HOURS,
      retry: { attempts: config.LOADER_RETRY_ATTEMPTS, baseMs: config.LOADER_RETRY_BASE_MS, maxMs: config.LOADER_RETRY_MAX_MS },
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

  if (config.LOADER_MODE === 'poll') {
    const poller = new DirectoryPollSource(local, loader, logger, { intervalMs: config.LOADER_POLL_INTERVAL_MS, concurrency: config.LOADER_CONCURRENCY });
    shutdown.register('directory poll', () => poller.stop());
    poller.start();
    logger.info({ input: local.root, intervalMs: config.LOADER_POLL_INTERVAL_MS }, 'loading files found by polling (at-least-once)');
    setReady(true);
    await new Promise<never>(() => undefined);
  }

  const source = new FileEventsSource(kafka, loader, metrics, logger, {
    groupId: config.LOADER_GROUP_ID,
    filesTopic: config.LOADER_FILES_TOPIC,
    concurrency: config.LOADER_CONCURRENCY,
    sessionTimeoutMs: config.LOADER_SESSION_TIMEOUT_MS,
  });
  shutdown.register('files consumer', () => source.stop());
  await connectOrExplain(`join consumer group ${config.LOADER_GROUP_ID}`, () => source.start());
  logger.info({ topic: config.LOADER_FILES_TOPIC, input: local.root, via: stage ? `gs://${stage.bucketName}` : 'local files' }, 'loading announced files');
  setReady(true);
  await source.failed;
}, { topics: (config) => topicWithDeadLetter(config.LOADER_FILES_TOPIC, 'files', config) });
