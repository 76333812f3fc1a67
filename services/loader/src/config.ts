import { z } from 'zod';
import { commonFields, fields, kafkaFields, topicFields } from '@cdc/core';
import { gcpFields } from '@cdc/core/gcp';

const topicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'must be a Kafka topic name ([a-zA-Z0-9._-])');

export const loaderConfigSchema = z.object({
  /** `events` (default): consume file-ready events, exactly-once into the changes table. `poll`: scan LOADER_INPUT_DIR every LOADER_POLL_INTERVAL_MS (at-least-once, see README) */
  LOADER_MODE: z.enum(['events', 'poll']).default('events'),
  /** consumer group of the loader instances; they split the files-topic partitions */
  LOADER_GROUP_ID: fields.nonEmpty('loader'),
  /** topic of the processor's file-ready events; quarantined files are reported on `<topic>.dlq` */
  LOADER_FILES_TOPIC: topicName.default('parquet-files'),
  /** root of the shared Parquet tree (the processor's PROCESSOR_OUTPUT_DIR); loaded/ and quarantine/ are made under it */
  LOADER_INPUT_DIR: fields.nonEmpty('./data/parquet'),
  /** files loaded at the same time (files-topic partitions in events mode, source partitions in poll mode); files of one source partition always load one after the other */
  LOADER_CONCURRENCY: fields.positiveInt(4),
  /** poll mode: interval between scans of LOADER_INPUT_DIR */
  LOADER_POLL_INTERVAL_MS: fields.positiveInt(30000),
  /** loaded files are kept under loaded/ this long (0: deleted right after loading) */
  LOADER_LOADED_RETENTION_HOURS: fields.nonNegativeInt(24),
  /** attempts of one step (upload, load, MERGE) on transient errors before the file is left for a later retry */
  LOADER_RETRY_ATTEMPTS: fields.positiveInt(8),
  LOADER_RETRY_BASE_MS: fields.positiveInt(500),
  LOADER_RETRY_MAX_MS: fields.positiveInt(30000),
  /** files at least this large are uploaded with a resumable upload */
  LOADER_RESUMABLE_MIN_BYTES: fields.positiveInt(8 * 1024 * 1024),
  /** consumer group session timeout */
  LOADER_SESSION_TIMEOUT_MS: fields.positiveInt(30000),
  /**
   * Fault-injection hooks for tests only; never set them in production. N > 0 makes the process SIGKILL itself
   * right after the N-th upload to the bucket (before the load job), right after the N-th successful load job
   * (before the MERGE, the marking and the offset commit), or right after marking the N-th file loaded (before the
   * offset commit).
   */
  LOADER_TEST_CRASH_AFTER_UPLOAD: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_LOAD: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_MARK: fields.nonNegativeInt(0),
  ...gcpFields(),
  ...kafkaFields('loader'),
  ...topicFields(),
  ...commonFields(8083),
});

export type LoaderConfig = z.output<typeof loaderConfigSchema>;
