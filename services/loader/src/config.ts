import { z } from 'zod';
import { checkKafkaSecurity, commonFields, fields, kafkaFields, readinessFields, topicFields } from '@cdc/core';
import { bigQueryName, gcpFields } from '@cdc/core/gcp';

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
  /** files-topic partitions consumed at the same time (events mode); their files share the groups */
  LOADER_CONCURRENCY: fields.positiveInt(6),
  /** a group collects ready files this long from its first file, then loads them with one load job and one MERGE; the load-job budget may stretch it */
  LOADER_GROUP_WINDOW_MS: fields.positiveInt(10000),
  /** a group closes early with this many files (BigQuery takes up to 10,000 source URIs per load job) */
  LOADER_GROUP_MAX_FILES: fields.positiveInt(1000),
  /** ... or this many bytes of Parquet */
  LOADER_GROUP_MAX_BYTES: fields.positiveInt(2 * 1024 * 1024 * 1024),
  /** load jobs per day into the changes table, all instances together, never exceeded (BigQuery allows 1,500 per table per day, failed ones included); groups grow instead */
  LOADER_LOAD_JOBS_PER_DAY: fields.positiveInt(1000),
  /** staging tables left by a crash expire after this many hours */
  LOADER_STAGING_EXPIRY_HOURS: fields.positiveInt(24),
  /** poll mode: interval between scans of LOADER_INPUT_DIR */
  LOADER_POLL_INTERVAL_MS: fields.positiveInt(30000),
  /** loaded files are kept under loaded/ this long (0: deleted right after loading) */
  LOADER_LOADED_RETENTION_HOURS: fields.nonNegativeInt(24),
  /** attempts of one step (upload, load, insert, MERGE) on transient errors (quota and rate limits included) before the group is left for a later retry */
  LOADER_RETRY_ATTEMPTS: fields.positiveInt(8),
  LOADER_RETRY_BASE_MS: fields.positiveInt(500),
  LOADER_RETRY_MAX_MS: fields.positiveInt(30000),
  /** files at least this large are uploaded with a resumable upload */
  LOADER_RESUMABLE_MIN_BYTES: fields.positiveInt(8 * 1024 * 1024),
  /** typed views per collection (`orders`, `orders_history`) kept in step with the fields of the loaded documents */
  LOADER_TYPED_VIEWS: fields.bool(true),
  /** table of the dataset recording the fields seen per collection and their BSON types (what the typed views are made from) */
  LOADER_VIEW_FIELDS_TABLE: bigQueryName('typed_view_fields'),
  /** consumer group session timeout */
  LOADER_SESSION_TIMEOUT_MS: fields.positiveInt(30000),
  /**
   * Fault-injection hooks for tests only; never set them in production. N > 0 makes the process SIGKILL itself
   * right after the N-th file uploaded to the bucket (before the load job), the N-th group loaded into its staging
   * table (before the insert), inserted into the changes table (before the MERGE), merged (before the marking), or
   * right after marking the N-th file loaded (before the offset commit).
   */
  LOADER_TEST_CRASH_AFTER_UPLOAD: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_LOAD: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_INSERT: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_MERGE: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES: fields.nonNegativeInt(0),
  LOADER_TEST_CRASH_AFTER_MARK: fields.nonNegativeInt(0),
  ...gcpFields(),
  ...kafkaFields('loader'),
  ...topicFields(),
  ...readinessFields(),
  ...commonFields(8083),
}).superRefine(checkKafkaSecurity);

export type LoaderConfig = z.output<typeof loaderConfigSchema>;
