import { z } from 'zod';
import { checkKafkaSecurity, commonFields, fields, kafkaFields, readinessFields, topicFields } from '@cdc/core';
import { PARQUET_COMPRESSIONS, PARQUET_LIBRARIES } from './sink/parquet-writer.js';

const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name ([a-zA-Z0-9._-])');

export const processorConfigSchema = z.object({
  /** consumer group shared by every processor instance; instances split the input partitions between them */
  PROCESSOR_GROUP_ID: fields.nonEmpty('processor'),
  /** comma-separated CDC topics to turn into Parquet files */
  PROCESSOR_TOPICS: fields.list('orders-cdc').pipe(z.array(topicName)),
  /** topic receiving one file-ready event per committed Parquet file (key <topic>-<partition>) */
  PROCESSOR_FILES_TOPIC: topicName.default('parquet-files'),
  /** root of the Parquet tree: <dir>/<topic>/dt=<YYYY-MM-DD>/<topic>-p<partition>-<first>-<last>.parquet */
  PROCESSOR_OUTPUT_DIR: fields.nonEmpty('./data/parquet'),
  /** a partition's open batch becomes a file when it holds this many rows (dead letters not counted) */
  PROCESSOR_BATCH_MAX_ROWS: fields.positiveInt(200_000),
  /** ... or when the Kafka record values in it add up to this many bytes (64 MiB of envelopes gives row groups well above BigQuery's advised 16 MiB) */
  PROCESSOR_BATCH_MAX_BYTES: fields.positiveInt(64 * 1024 * 1024),
  /** ... or when its first record is this old, even if no new record arrives (the latency bound at low volume) */
  PROCESSOR_BATCH_MAX_AGE_MS: fields.positiveInt(5000),
  /** Parquet writer implementation (see bench/parquet-writers.ts for the measurements behind the default) */
  PROCESSOR_PARQUET_LIBRARY: z.enum(PARQUET_LIBRARIES).default('@dsnp/parquetjs'),
  /** column compression; BigQuery loads SNAPPY, GZIP and ZSTD Parquet. ZSTD: files half the size of SNAPPY for ~10% less speed */
  PROCESSOR_PARQUET_COMPRESSION: z.enum(PARQUET_COMPRESSIONS).default('ZSTD'),
  /** rows per Parquet row group; files of fewer rows have a single row group */
  PROCESSOR_PARQUET_ROW_GROUP_ROWS: fields.positiveInt(200_000),
  /** values per Parquet data page */
  PROCESSOR_PARQUET_PAGE_ROWS: fields.positiveInt(8192),
  /** partitions whose fetched records are processed at the same time by one instance */
  PROCESSOR_PARTITIONS_CONCURRENCY: fields.positiveInt(2),
  /** consumer group session timeout: a silent instance loses its partitions after this long */
  PROCESSOR_SESSION_TIMEOUT_MS: fields.positiveInt(30000),
  /**
   * Fault-injection hooks for tests only; never set them in production. N > 0 makes the process SIGKILL itself
   * right after renaming its N-th Parquet file into place (before the Kafka transaction), or right after the N-th
   * committed transaction that announced a file.
   */
  PROCESSOR_TEST_CRASH_AFTER_RENAME: fields.nonNegativeInt(0),
  PROCESSOR_TEST_CRASH_AFTER_COMMIT: fields.nonNegativeInt(0),
  ...kafkaFields('processor'),
  /** the topics the processor creates when missing (files topic, input topics) */
  ...topicFields(),
  /** a transaction (file event + dead letters + offsets) not committed within this time is aborted by the broker */
  KAFKA_TRANSACTION_TIMEOUT_MS: fields.positiveInt(60000),
  ...readinessFields(),
  ...commonFields(8082),
}).superRefine(checkKafkaSecurity);

export type ProcessorConfig = z.output<typeof processorConfigSchema>;
