import type { z } from 'zod';
import { fields, kafkaConsumerSettings, kafkaServiceSchema, templateSubscriptionProblem, templateTopicPattern, kafkaTransactionSettings, objectStoreClientSettings, perServiceSettings, readinessSettings, setting, storeLocation } from '@cdc/core';
import { PARQUET_COMPRESSIONS, PARQUET_WRITERS } from './sink/parquet-writer.js';

/** The processor's own variables (the shared ones are in `processorConfigSchema`). */
export const processorSettings = {
  PROCESSOR_GROUP_ID: setting.text({
    default: 'processor',
    check: fields.groupId,
    description: 'consumer group shared by every processor instance; instances split the input partitions between them',
  }),
  PROCESSOR_TOPICS: setting.list({ default: 'orders-cdc', item: fields.topicName, values: 'topic,...', description: 'CDC topics to turn into Parquet files (unless PROCESSOR_TOPIC_TEMPLATE is set)' }),
  PROCESSOR_TOPIC_TEMPLATE: setting.text({
    check: fields.topicTemplate(['db', 'coll']).superRefine((template, ctx) => {
      const problem = templateSubscriptionProblem(template);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
    values: 'template',
    description:
      "the cdc's CDC_TOPIC_TEMPLATE, for a database or deployment scope: every topic it can make is read (a pattern subscription), also those created while running, instead of PROCESSOR_TOPICS; must end with fixed text no dead-letter topic ends with (the default {coll}-cdc does)",
  }),
  PROCESSOR_TOPIC_REFRESH_MS: setting.durationMs({
    default: 10000,
    description: 'with PROCESSOR_TOPIC_TEMPLATE: how often the topic list is fetched again, the longest a new collection\'s topic waits before it is read',
  }),
  PROCESSOR_FILES_TOPIC: setting.text({
    default: 'parquet-files',
    check: fields.topicName,
    description: 'topic receiving one file-ready event per committed Parquet file (key <topic>-<partition>; the loader consumes it)',
  }),
  PROCESSOR_OUTPUT: setting.text({
    check: storeLocation,
    values: 'directory or gs://bucket/prefix',
    description:
      'where finished Parquet files go: gs://<bucket>/<prefix> (uploaded under their final object name, never over an existing object; processors and loader on any hosts) or a local directory. Unset: PROCESSOR_OUTPUT_DIR',
  }),
  PROCESSOR_OUTPUT_DIR: setting.text({
    default: './data/parquet',
    description:
      'root of the local Parquet tree, <dir>/<topic>/dt=<YYYY-MM-DD>/<topic>-p<partition>-<first>-<last>.parquet (compose: always /data/parquet in the volume; stack.sh: .run/stack/parquet); with PROCESSOR_OUTPUT a bucket, the write buffer: only the files being written, each deleted once uploaded',
  }),
  PROCESSOR_REQUEST_TIMEOUT_MS: setting.durationMs({
    default: 60000,
    min: 1000,
    description:
      'with a bucket output, one metadata, listing or deletion request to Cloud Storage answered within this, else the flush or take-over fails as transient and is retried (the client has no working deadline of its own)',
  }),
  PROCESSOR_UPLOAD_TIMEOUT_MS: setting.durationMs({
    default: 900000,
    min: 1000,
    description: 'with a bucket output, one file uploaded within this, else the flush fails as transient and is retried (an upload whose answer came late is found in place and accepted)',
  }),
  PROCESSOR_UPLOAD_RESUMABLE_MIN_BYTES: setting.int({
    default: 8 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description: 'bucket output: files at least this large are uploaded with a resumable upload',
  }),
  PROCESSOR_BATCH_MAX_ROWS: setting.int({
    default: 200_000,
    min: 1,
    description: "a partition's open batch becomes a file when it holds this many rows (dead letters not counted)",
  }),
  PROCESSOR_BATCH_MAX_BYTES: setting.int({
    default: 64 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description: "a partition's open batch also becomes a file when the Kafka record values in it add up to this many bytes (64 MiB of envelopes gives row groups well above BigQuery's advised 16 MiB)",
  }),
  PROCESSOR_BUFFER_MAX_BYTES: setting.int({
    default: 128 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description:
      "the open batches of all the partitions an instance is assigned hold at most this many bytes of Kafka record values together; past it, the largest becomes a file early. Bounds the open batches' memory whatever the instance's number of partitions (the README's performance table has the process's peak RSS at the defaults)",
  }),
  PROCESSOR_BATCH_MAX_AGE_MS: setting.durationMs({
    default: 5000,
    description: "a partition's open batch also becomes a file when its first record is this old, even if no new record arrives (the latency bound at low volume)",
  }),
  PROCESSOR_PARQUET_LIBRARY: setting.oneOf(PARQUET_WRITERS, {
    default: 'parquet-wasm',
    description:
      'Parquet writer: parquet-wasm shreds rows into column buffers as they arrive and encodes each file on its own thread; the parquetjs libraries keep rows as objects and encode on the consuming thread (see bench/parquet-writers.ts for the measurements behind the default)',
  }),
  PROCESSOR_PARQUET_COMPRESSION: setting.oneOf(PARQUET_COMPRESSIONS, {
    default: 'ZSTD',
    description: 'column compression; BigQuery loads SNAPPY, GZIP and ZSTD Parquet. ZSTD: files half the size of SNAPPY for ~10% less speed',
  }),
  PROCESSOR_PARQUET_ROW_GROUP_ROWS: setting.int({ default: 200_000, min: 1, description: 'rows per Parquet row group at most' }),
  PROCESSOR_PARQUET_ROW_GROUP_BYTES: setting.int({
    default: 8 * 1024 * 1024,
    min: 1024 * 1024,
    unit: 'bytes',
    description:
      "parquet-wasm: a row group also ends once the encoder holds this many bytes of it. The encoding thread keeps one row group in memory, not the whole file (a file of 64 MiB of envelopes has several row groups)",
  }),
  PROCESSOR_PARQUET_PAGE_ROWS: setting.int({ default: 8192, min: 1, description: 'values per Parquet data page' }),
  PROCESSOR_PARTITIONS_CONCURRENCY: setting.int({ default: 2, min: 1, description: 'partitions whose fetched records are processed at the same time by one instance' }),
  PROCESSOR_SESSION_TIMEOUT_MS: setting.durationMs({
    default: 30000,
    description: 'consumer group session timeout: a silent instance loses its partitions after this long',
  }),
  PROCESSOR_TEST_CRASH_AFTER_RENAME: setting.testCrashHook('right after putting its N-th Parquet file into place, renamed or uploaded (before the Kafka transaction)'),
  PROCESSOR_TEST_CRASH_AFTER_COMMIT: setting.testCrashHook('right after the N-th committed transaction that announced a file'),
  ...perServiceSettings('processor', 8082),
};

// the topics it creates when missing: files topic, input topics
// with a bucket output, the Cloud Storage client's variables (declared with the other Google Cloud ones)
export const processorConfigSchema = kafkaServiceSchema({ ...processorSettings, ...kafkaConsumerSettings, ...objectStoreClientSettings, ...kafkaTransactionSettings, ...readinessSettings }).superRefine((c, ctx) => {
  // Its own output read back as input would loop.
  if (c.PROCESSOR_TOPIC_TEMPLATE !== undefined && templateTopicPattern(c.PROCESSOR_TOPIC_TEMPLATE).test(c.PROCESSOR_FILES_TOPIC)) {
    ctx.addIssue({ code: 'custom', path: ['PROCESSOR_TOPIC_TEMPLATE'], message: `matches the files topic ${c.PROCESSOR_FILES_TOPIC} (PROCESSOR_FILES_TOPIC)` });
  }
});

export type ProcessorConfig = z.output<typeof processorConfigSchema>;
