#!/usr/bin/env node
import { MongoClient } from 'mongodb';
import { connectOrExplain, crashHooks, createKafka, kafkaSettingsOf, ensureTopicsWithRetry, runService, topicWithDeadLetter } from '@cdc/core';
import { cdcConfigSchema, mongoConnection } from './config.js';
import { createCdcMetrics } from './metrics.js';
import { CheckpointStore } from './checkpoint/checkpoint-store.js';
import { TransactionalPublisher } from './sink/transactional-publisher.js';
import { createStreamRunner } from './stream-runner.js';
import { assignCollections, parseNamespace, streamIdFor, topicFor } from './transform/routing.js';
import { hashPartitionStage } from './source/hash-partition.js';
import { cdcAcls, cdcTopics } from './topics.js';
import { CDC_CRASH_HOOKS } from './fault-points.js';
import { OplogWatch, readOplogWindow } from './source/oplog-window.js';
import { CaptureScope } from './scope/capture-scope.js';
import { ScopeCollections } from './scope/scope-collections.js';
import { createScopeRunner } from './scope/scope-runner.js';
import { scopeTopicMaker } from './scope/scope-topics.js';
import { scopeOpsHandler } from './scope/ops-routes.js';
import type { CollectionStatus } from './scope/scope-collections.js';
import type { ResnapshotOutcome } from './scope/snapshot-worker.js';

/** How often the oplog's window is read and compared with the streams' resume points (one cheap query each end). */
const OPLOG_WATCH_INTERVAL_MS = 15_000;

await runService('cdc', cdcConfigSchema, async ({ config, logger, ops, shutdown, signal, setReady, fail }) => {
  const instance = `cdc-${config.CDC_INSTANCE_INDEX}`;
  // a database or deployment scope finds its collections itself (and makes their topics as it does)
  const namespaces =
    config.CDC_CAPTURE_SCOPE !== 'collection'
      ? []
      : config.CDC_PARTITION_MODE === 'hash'
        ? config.CDC_COLLECTIONS
        : assignCollections(config.CDC_COLLECTIONS, config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT);
  if (namespaces.length === 0 && config.CDC_CAPTURE_SCOPE === 'collection') {
    logger.warn({ instances: config.CDC_INSTANCE_COUNT }, 'no collection assigned to this instance; idling');
  }
  const metrics = createCdcMetrics(ops.registry);

  const connection = mongoConnection(config);
  const mongo = new MongoClient(connection.uri, { ...connection.options, serverSelectionTimeoutMS: config.MONGO_CONNECT_TIMEOUT_MS, appName: instance });
  shutdown.register('mongodb client', () => mongo.close());
  await connectOrExplain('connect to MongoDB', async () => {
    await mongo.connect();
    await mongo.db('admin').command({ ping: 1 });
  });

  const kafka = createKafka(kafkaSettingsOf(config, logger, fail));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await connectOrExplain(`reach Kafka brokers ${config.KAFKA_BROKERS.join(',')}`, () =>
      ensureTopicsWithRetry(admin, cdcTopics(config, namespaces), { attempts: config.KAFKA_CONNECT_RETRIES + 1, logger }),
    );
  } finally {
    await admin.disconnect();
  }
  const faults = crashHooks(CDC_CRASH_HOOKS, config, logger);
  const publisherOf = (streamId: string) => {
    const publisher = new TransactionalPublisher(
      kafka,
      {
        transactionalId: `${config.KAFKA_CLIENT_ID}-${streamId}`,
        transactionTimeoutMs: config.KAFKA_TRANSACTION_TIMEOUT_MS,
        compression: config.CDC_COMPRESSION,
        maxMessageBytes: config.KAFKA_MAX_MESSAGE_BYTES,
        afterSend: () => faults.reached('in_transaction'),
      },
      logger.child({ streamId }),
    );
    shutdown.register(`publisher ${streamId}`, () => publisher.close());
    // the marker goes through the stream's own transactional id, retried as the stream's batches are
    const checkpoints = new CheckpointStore(kafka, config.CDC_CHECKPOINT_TOPIC, streamId, { writeMarker: (message) => publisher.publish([message]) }, logger);
    return { publisher, checkpoints };
  };
  const streamSettings = {
    instance,
    snapshotMode: config.CDC_SNAPSHOT,
    snapshotBatchSize: config.CDC_SNAPSHOT_BATCH_SIZE,
    onHistoryLost: config.CDC_ON_HISTORY_LOST,
    onStreamEnd: config.CDC_ON_STREAM_END,
    fullDocumentBeforeChange: config.CDC_FULL_DOCUMENT_BEFORE_CHANGE,
    splitLargeEvents: config.CDC_SPLIT_LARGE_EVENTS,
    batchMaxEvents: config.CDC_BATCH_MAX_EVENTS,
    batchMaxBytes: config.CDC_BATCH_MAX_BYTES,
    batchMaxWaitMs: config.CDC_BATCH_MAX_WAIT_MS,
    maxMessageBytes: config.CDC_MAX_MESSAGE_BYTES,
    heartbeatIntervalMs: config.CDC_HEARTBEAT_INTERVAL_MS,
  };
  const collectionsSettings = { snapshotMode: config.CDC_SNAPSHOT, onStreamEnd: config.CDC_ON_STREAM_END, droppedRows: config.CDC_DROPPED_COLLECTION_ROWS, topicTemplate: config.CDC_TOPIC_TEMPLATE, instance, maxMessageBytes: config.CDC_MAX_MESSAGE_BYTES };
  /** per captured collection, for GET /collections and its re-snapshot on demand */
  const captured: { status(): CollectionStatus[]; resnapshot(ns: string, filter?: string): Promise<ResnapshotOutcome> }[] = [];
  /** a database or deployment scope's one stream */
  let scopeStream: string | undefined;
  const runners =
    config.CDC_CAPTURE_SCOPE === 'collection'
      ? namespaces.map((ns) => {
          const { db, coll } = parseNamespace(ns);
          const streamId = streamIdFor(ns, config.CDC_PARTITION_MODE, config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT);
          const { publisher, checkpoints } = publisherOf(streamId);
          const topic = topicFor(config.CDC_TOPIC_TEMPLATE, db, coll);
          metrics.streamTopic.set({ stream: streamId, topic }, 1);
          const pipeline =
            config.CDC_PARTITION_MODE === 'hash' ? [hashPartitionStage(config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT)] : [];
          const streamLogger = logger.child({ streamId });
          // a stream of its own, whose checkpoint also holds its re-snapshot on demand
          const own = new ScopeCollections({ captures: (d, c) => d === db && c === coll }, collectionsSettings, async () => undefined, metrics, streamLogger);
          const { runner, resnapshot, resnapshotsDone } = createStreamRunner(mongo, publisher, checkpoints, { ...streamSettings, streamId, db, coll, topic, pipeline }, own, { metrics, logger: streamLogger, signal, fail });
          // its chunk in hand committed before the publisher closes
          shutdown.register(`re-snapshots ${streamId}`, resnapshotsDone);
          captured.push({ status: () => own.status(runner.resumePoint), resnapshot: (name, filter) => (name === ns ? resnapshot(name, filter) : Promise.resolve('unknown')) });
          return runner;
        })
      : [await scopeRunner()];
  const collectionsStatus = () => captured.flatMap((c) => c.status());
  metrics.collectionRates.source = collectionsStatus;
  ops.setFallbackHandler(
    scopeOpsHandler(
      {
        status: () => ({ scope: config.CDC_CAPTURE_SCOPE, ...(scopeStream === undefined ? {} : { stream: scopeStream }), collections: collectionsStatus() }),
        resnapshot: async (ns, filter) => {
          for (const c of captured) {
            const outcome = await c.resnapshot(ns, filter);
            if (outcome !== 'unknown') return outcome;
          }
          return 'unknown';
        },
      },
      fail,
    ),
  );

  /** A database or deployment scope: one stream, its collections' topics made as they are found. */
  async function scopeRunner() {
    const scope = new CaptureScope(config);
    const { streamId } = scope;
    const topicAdmin = kafka.admin();
    await topicAdmin.connect();
    shutdown.register('kafka admin (topics of new collections)', () => topicAdmin.disconnect());
    const ensureTopics = scopeTopicMaker({
      admin: topicAdmin,
      specsOf: (topic) => topicWithDeadLetter(topic, 'cdc', config),
      attempts: config.KAFKA_CONNECT_RETRIES + 1,
      logger,
      made: (topic) => metrics.streamTopic.set({ stream: streamId, topic }, 1),
    });
    const scopeLogger = logger.child({ streamId });
    const collections = new ScopeCollections(scope, collectionsSettings, ensureTopics, metrics, scopeLogger);
    const { publisher, checkpoints } = publisherOf(streamId);
    const db = config.CDC_CAPTURE_SCOPE === 'database' ? config.CDC_CAPTURE_DATABASE : '';
    const { runner, start } = createScopeRunner({
      client: mongo,
      scope,
      collections,
      publisher,
      checkpoints,
      settings: { ...streamSettings, streamId, db, coll: '', topic: '', pipeline: [scope.matchStage()] },
      metrics,
      logger: scopeLogger,
      signal,
      fail,
    });
    shutdown.register('scope snapshots', () => start.snapshotsDone);
    captured.push({ status: () => collections.status(runner.resumePoint), resnapshot: (ns, filter) => start.resnapshotOne(ns, filter) });
    scopeStream = streamId;
    return runner;
  }

  const oplogWatch = new OplogWatch({
    read: () => readOplogWindow(mongo),
    streams: () => runners.map((runner) => ({ streamId: runner.streamId, resumePoint: runner.resumePoint })),
    metrics,
    logger,
  });
  ops.setReadyDetail(() => oplogWatch.detail);
  oplogWatch.start(OPLOG_WATCH_INTERVAL_MS);
  shutdown.register('oplog watch', () => oplogWatch.stop());

  const running = runners.map((runner) => runner.run());
  // the signal, aborted as the shutdown starts, has them commit the batch in hand and end
  shutdown.register('stream runners', async () => {
    await Promise.allSettled(running);
  });
  setReady(true);
  // A runner ends only when stopped or on a fatal error; either way the service ends.
  await Promise.all(running);
  if (runners.length === 0) await new Promise<void>(() => {});
}, { topics: (config) => cdcTopics(config), acls: cdcAcls });
