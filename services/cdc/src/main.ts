#!/usr/bin/env node
import { MongoClient } from 'mongodb';
import { connectOrExplain, createKafka, kafkaSettingsOf, ensureTopicsWithRetry, runService } from '@cdc/core';
import { cdcConfigSchema, mongoConnection } from './config.js';
import { createCdcMetrics } from './metrics.js';
import { CheckpointStore } from './checkpoint/checkpoint-store.js';
import { TransactionalPublisher } from './sink/transactional-publisher.js';
import { StreamRunner } from './stream-runner.js';
import { assignCollections, parseNamespace, streamIdFor, topicFor } from './transform/routing.js';
import { hashPartitionStage } from './source/hash-partition.js';
import { cdcAcls, cdcTopics } from './topics.js';
import { OplogWatch, readOplogWindow } from './source/oplog-window.js';

/** How often the oplog's window is read and compared with the streams' resume points (one cheap query each end). */
const OPLOG_WATCH_INTERVAL_MS = 15_000;

await runService('cdc', cdcConfigSchema, async ({ config, logger, ops, shutdown, setReady, fail }) => {
  const instance = `cdc-${config.CDC_INSTANCE_INDEX}`;
  const namespaces =
    config.CDC_PARTITION_MODE === 'hash'
      ? config.CDC_COLLECTIONS
      : assignCollections(config.CDC_COLLECTIONS, config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT);
  if (namespaces.length === 0) {
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
  const store = new CheckpointStore(kafka, config.CDC_CHECKPOINT_TOPIC, config.KAFKA_REPLICATION_FACTOR, logger);

  if (config.CDC_TEST_CRASH_IN_TRANSACTION) logger.warn('test fault-injection hook is set: this process will SIGKILL itself');
  let sent = 0;
  const onSent = () => {
    if (++sent !== config.CDC_TEST_CRASH_IN_TRANSACTION) return;
    logger.warn({ hook: 'CDC_TEST_CRASH_IN_TRANSACTION' }, 'fault injection: SIGKILL now');
    process.kill(process.pid, 'SIGKILL');
  };
  const runners = namespaces.map((ns) => {
    const { db, coll } = parseNamespace(ns);
    const streamId = streamIdFor(ns, config.CDC_PARTITION_MODE, config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT);
    const publisher = new TransactionalPublisher(
      kafka,
      {
        transactionalId: `${config.KAFKA_CLIENT_ID}-${streamId}`,
        transactionTimeoutMs: config.KAFKA_TRANSACTION_TIMEOUT_MS,
        compression: config.CDC_COMPRESSION,
        maxMessageBytes: config.KAFKA_MAX_MESSAGE_BYTES,
        onSent,
      },
      logger.child({ streamId }),
    );
    shutdown.register(`publisher ${streamId}`, () => publisher.close());
    const pipeline =
      config.CDC_PARTITION_MODE === 'hash' ? [hashPartitionStage(config.CDC_INSTANCE_INDEX, config.CDC_INSTANCE_COUNT)] : [];
    return new StreamRunner(
      mongo,
      publisher,
      store,
      {
        streamId,
        db,
        coll,
        topic: topicFor(config.CDC_TOPIC_TEMPLATE, db, coll),
        instance,
        pipeline,
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
        checkpointTopic: config.CDC_CHECKPOINT_TOPIC,
        heartbeatIntervalMs: config.CDC_HEARTBEAT_INTERVAL_MS,
      },
      metrics,
      logger.child({ streamId }),
    );
  });

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
  shutdown.register('stream runners', async () => {
    for (const runner of runners) runner.stop();
    await Promise.allSettled(running);
  });
  setReady(true);
  // A runner ends only when stopped or on a fatal error; either way the service ends.
  await Promise.all(running);
  if (runners.length === 0) await new Promise<void>(() => {});
}, { topics: (config) => cdcTopics(config), acls: cdcAcls });
