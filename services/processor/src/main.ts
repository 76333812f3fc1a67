#!/usr/bin/env node
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { connectOrExplain, connectWatchedKafka, crashHooks, ExpiredOffsetsGuard, LocalParquetStore, parseStoreLocation, parseTempName, runService, watchVolume, type ParquetStore } from '@cdc/core';
import type { ProcessorConfig } from './config.js';
import { processorConfigSchema } from './config.js';
import { createProcessorMetrics } from './metrics.js';
import { createParquetWriter } from './sink/parquet-writer.js';
import { FileStore } from './sink/file-store.js';
import { CdcTopicConsumer } from './source/consumer.js';
import { PROCESSOR_CRASH_HOOKS } from './fault-points.js';
import { currentInputTopics, inputSubscription, processorAcls, processorTopics } from './topics.js';

await runService('processor', processorConfigSchema, async (ctx) => {
  const { config, logger, ops, shutdown, signal, setReady, addReadinessCheck, fail } = ctx;
  const metrics = createProcessorMetrics(ops.registry);
  const writer = await createParquetWriter(config.PROCESSOR_PARQUET_LIBRARY, {
    compression: config.PROCESSOR_PARQUET_COMPRESSION,
    rowGroupRows: config.PROCESSOR_PARQUET_ROW_GROUP_ROWS,
    rowGroupBytes: config.PROCESSOR_PARQUET_ROW_GROUP_BYTES,
    pageRows: config.PROCESSOR_PARQUET_PAGE_ROWS,
  });
  const output = await openOutput(config);
  const store = new FileStore(output.store, writer);
  await mkdir(output.localDir, { recursive: true });
  // Not ready while the volume (the output directory, or the write buffer of a bucket output) cannot take one more
  // batch's file (its values' size bounds the file's).
  const volume = watchVolume(output.localDir, { registry: ops.registry, metricName: 'processor_volume_free_bytes', minFreeBytes: config.PROCESSOR_BATCH_MAX_BYTES });
  shutdown.register('volume watch', () => volume.stop());
  addReadinessCheck('volume', volume.check);

  const { kafka, admin } = await connectWatchedKafka(ctx, processorTopics(config));

  // A template's topics as they are at start (those created later have no committed offsets to have expired).
  const inputTopics = await currentInputTopics(config, admin);
  const expiredOffsets = new ExpiredOffsetsGuard(admin, { groupId: config.PROCESSOR_GROUP_ID, topics: inputTopics, registry: ops.registry, metricName: 'processor_offsets_expired_records', logger, addReadinessCheck });
  if (!(await expiredOffsets.offsetsStillInLog())) {
    // Up and not ready, naming the records lost, until the operator decides (the process lives on its servers).
    setReady(true);
    return;
  }
  const consumer = new CdcTopicConsumer(kafka, admin, store, metrics, logger, {
    topics: inputSubscription(config),
    topicRefreshMs: config.PROCESSOR_TOPIC_REFRESH_MS,
    groupId: config.PROCESSOR_GROUP_ID,
    filesTopic: config.PROCESSOR_FILES_TOPIC,
    limits: { maxRows: config.PROCESSOR_BATCH_MAX_ROWS, maxBytes: config.PROCESSOR_BATCH_MAX_BYTES, maxAgeMs: config.PROCESSOR_BATCH_MAX_AGE_MS },
    transactionTimeoutMs: config.KAFKA_TRANSACTION_TIMEOUT_MS,
    sessionTimeoutMs: config.PROCESSOR_SESSION_TIMEOUT_MS,
    fenceWaitMs: config.PROCESSOR_SESSION_TIMEOUT_MS,
    partitionsConcurrency: config.PROCESSOR_PARTITIONS_CONCURRENCY,
    bufferMaxBytes: config.PROCESSOR_BUFFER_MAX_BYTES,
    faults: crashHooks(PROCESSOR_CRASH_HOOKS, config, logger),
    maxMessageBytes: config.KAFKA_MAX_MESSAGE_BYTES,
    prefetchBytes: config.KAFKA_CONSUMER_PREFETCH_BYTES,
    // Up and not ready, as when found at start: the open batches are dropped (nothing committed past the gap).
    onHalted: (halted) => void expiredOffsets.checkHalted(halted, () => consumer.stop()),
  }, fail, signal);
  shutdown.register('kafka consumer and producers', () => consumer.stop());
  await connectOrExplain(`join consumer group ${config.PROCESSOR_GROUP_ID}`, () => consumer.start());
  logger.info({ topics: config.PROCESSOR_TOPIC_TEMPLATE === undefined ? config.PROCESSOR_TOPICS : `${inputSubscription(config).toString()} (now ${inputTopics.join(',')})`, output: store.location, writer: writer.library, compression: writer.compression }, 'processing');
  // Runs until shutdown; librdkafka rejoins the group by itself after any group or broker failure.
  setReady(true);
}, { topics: processorTopics, acls: processorAcls });

/**
 * The local directory, or the bucket prefix (checked to exist before anything is consumed); `localDir`: where files
 * are written, the output directory itself or the bucket's write buffer.
 */
async function openOutput(config: ProcessorConfig): Promise<{ store: ParquetStore; localDir: string }> {
  const location = parseStoreLocation(config.PROCESSOR_OUTPUT ?? config.PROCESSOR_OUTPUT_DIR);
  if (location.kind === 'local') return { store: new LocalParquetStore(location.dir), localDir: location.dir };
  // Only a bucket output loads the Google Cloud client.
  const { createStorageClient, ObjectParquetStore, gcpErrorInfo } = await import('@cdc/core/gcp');
  const storage = createStorageClient(config);
  try {
    await storage.bucket(location.bucket).getMetadata();
  } catch (error) {
    const info = gcpErrorInfo(error);
    throw new Error(`PROCESSOR_OUTPUT: bucket ${location.bucket} cannot be used: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}`);
  }
  await clearWriteBuffer(config.PROCESSOR_OUTPUT_DIR);
  const store = new ObjectParquetStore(storage, { bucket: location.bucket, prefix: location.prefix, scratchDir: config.PROCESSOR_OUTPUT_DIR, resumableMinBytes: config.PROCESSOR_UPLOAD_RESUMABLE_MIN_BYTES, requestTimeoutMs: config.PROCESSOR_REQUEST_TIMEOUT_MS, transferTimeoutMs: config.PROCESSOR_UPLOAD_TIMEOUT_MS });
  return { store, localDir: config.PROCESSOR_OUTPUT_DIR };
}

/** Files a crash left half written in this processor's write buffer (never uploaded, so never announced). */
async function clearWriteBuffer(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(dir)) if (parseTempName(name) !== null) await rm(join(dir, name), { force: true });
}
