import { z } from 'zod';
import { fields, kafkaServiceSchema, perServiceSettings, readinessSettings, setting, storeLocation } from '@cdc/core';
import { bigQueryName, gcpSettings, withGcpNameChecks } from '@cdc/core/gcp';

/** The loader's own variables (the shared ones are in `loaderConfigSchema`). */
export const loaderSettings = {
  LOADER_MODE: setting.oneOf(['events', 'poll'], {
    default: 'events',
    description:
      'events: consume the file-ready events, exactly once into the changes table; poll: scan LOADER_INPUT_DIR every LOADER_POLL_INTERVAL_MS (at least once, see "Delivery semantics")',
  }),
  LOADER_GROUP_ID: setting.text({ default: 'loader', check: fields.groupId, description: 'consumer group of the loader instances; they split the files-topic partitions' }),
  LOADER_FILES_TOPIC: setting.text({
    default: 'parquet-files',
    check: fields.topicName,
    description: "the processor's files topic (PROCESSOR_FILES_TOPIC); quarantined files are reported on <topic>.dlq",
  }),
  LOADER_INPUT: setting.text({
    check: storeLocation,
    values: 'directory or gs://bucket/prefix',
    description:
      "where the announced files are, the processor's PROCESSOR_OUTPUT: gs://<bucket>/<prefix> (loaded straight from their objects, no shared volume; loaded/ and quarantine/ are prefixes beside them) or a local directory. Unset: LOADER_INPUT_DIR",
  }),
  LOADER_INPUT_DIR: setting.text({
    default: './data/parquet',
    description:
      "root of the shared Parquet tree, the processor's PROCESSOR_OUTPUT_DIR (compose: always /data/parquet; stack.sh: .run/stack/parquet); loaded/ and quarantine/ are made under it. With LOADER_INPUT a bucket: this loader's own working directory (load-job budget records, snapshot markers waiting, local copies for the typed views)",
  }),
  LOADER_CONCURRENCY: setting.int({
    default: 6,
    min: 1,
    description: 'files-topic partitions consumed at the same time (events mode); their files share the groups',
  }),
  LOADER_GROUP_WINDOW_MS: setting.durationMs({
    default: 10000,
    description:
      'grouping: all ready files (any partition) load with one load job, one insert and one MERGE; a group collects files this long from its first file (the load-job budget may make it wait longer)',
  }),
  LOADER_GROUP_MAX_FILES: setting.int({
    default: 1000,
    min: 1,
    description: 'a group closes early with this many files (BigQuery takes up to 10,000 source URIs per load job)',
  }),
  LOADER_GROUP_MAX_BYTES: setting.int({ default: 2 * 1024 * 1024 * 1024, min: 1, unit: 'bytes', description: 'a group also closes early with this many bytes of Parquet' }),
  LOADER_LOAD_JOBS_PER_DAY: setting.int({
    default: 1000,
    min: 1,
    description:
      'load jobs per day into the changes table, all instances together (BigQuery: 1,500 per table per day, failed ones included); never exceeded: groups grow instead. The local stack sets a high value (the emulator has no quota)',
  }),
  LOADER_STAGING: setting.oneOf(['load-job', 'storage-write'], {
    default: 'load-job',
    description:
      'how a group reaches its staging table: load-job (one load job from the bucket, free, paced by LOADER_LOAD_JOBS_PER_DAY: at high traffic a group waits minutes) or storage-write (its rows appended through the BigQuery Storage Write API, a pending stream committed at once: not paced by the load-job budget, seconds behind, billed past its free tier; the files are not uploaded to the bucket). See "Choosing the staging method"',
  }),
  LOADER_STORAGE_WRITE_WINDOW_MS: setting.durationMs({
    default: 2000,
    description:
      'storage-write: a group collects files this long from its first file (in place of LOADER_GROUP_WINDOW_MS, which paces load jobs); each group is one pending stream, one insert and one MERGE, so this also sets how often those statements run',
  }),
  LOADER_STORAGE_WRITE_ENDPOINT: setting.text({
    check: z.string().regex(/^[^\s/:]+:\d+$/, 'must be host:port'),
    values: 'host:port',
    description:
      'storage-write: the BigQuery Storage Write API of an emulator (plain-text gRPC, no credentials); unset: Google Cloud (bigquerystorage.googleapis.com, the credentials of BigQuery). stack.sh and deploy.sh set it for their emulators: set it in .env only to use another emulator',
  }),
  LOADER_STAGING_EXPIRY_HOURS: setting.int({ default: 24, min: 1, unit: 'hours', description: 'staging tables left behind by a crash expire after this long' }),
  LOADER_POLL_INTERVAL_MS: setting.durationMs({ default: 30000, description: 'poll mode: interval between scans of LOADER_INPUT_DIR' }),
  LOADER_LOADED_RETENTION_HOURS: setting.int({
    default: 24,
    min: 0,
    unit: 'hours',
    description: 'loaded files are kept under loaded/ this long (0: deleted right after loading)',
  }),
  LOADER_RETRY_ATTEMPTS: setting.int({
    default: 8,
    min: 1,
    description:
      'attempts of one step (upload, load, insert, MERGE) on transient errors (quota and rate limits included), with exponential backoff between LOADER_RETRY_BASE_MS and LOADER_RETRY_MAX_MS, before the group is left for a later retry',
  }),
  LOADER_RETRY_BASE_MS: setting.durationMs({ default: 500, description: 'first backoff between attempts of a step' }),
  LOADER_RETRY_MAX_MS: setting.durationMs({ default: 30000, description: 'longest backoff between attempts of a step' }),
  LOADER_REQUEST_TIMEOUT_MS: setting.durationMs({
    default: 60000,
    min: 1000,
    description:
      'one request to BigQuery or Cloud Storage (job creation, job status, table creation and deletion, object metadata and deletion; at start, each attempt to prepare the dataset, tables and bucket) answered within this, else the step fails as transient and is retried (BigQuery answers these in well under a second; the clients have no working deadline of their own)',
  }),
  LOADER_JOB_TIMEOUT_MS: setting.durationMs({
    default: 900000,
    min: 1000,
    description:
      'a load job, insert, MERGE or query followed to DONE, one file uploaded, one group appended through the Storage Write API, within this, else the job is cancelled (best effort) and the step fails as transient and is retried. Default 15 min: a group of up to LOADER_GROUP_MAX_FILES files and LOADER_GROUP_MAX_BYTES loads in seconds to a few minutes, and load jobs share slots that can make them wait in a busy project',
  }),
  LOADER_RESUMABLE_MIN_BYTES: setting.int({
    default: 8 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description: 'files at least this large are uploaded with a resumable upload',
  }),
  LOADER_TYPED_VIEWS: setting.bool({
    default: true,
    description: 'typed views per collection (orders, orders_history: BSON types as BigQuery columns) kept in step with the fields of the loaded documents',
  }),
  LOADER_VIEW_FIELDS_TABLE: setting.text({
    default: 'typed_view_fields',
    check: bigQueryName,
    description: 'table of the dataset recording the fields seen per collection and their BSON types (what the typed views are made from)',
  }),
  LOADER_SESSION_TIMEOUT_MS: setting.durationMs({
    default: 30000,
    description: 'consumer group session timeout: a silent instance loses its partitions after this long',
  }),
  LOADER_TEST_CRASH_AFTER_UPLOAD: setting.testCrashHook('right after the N-th file uploaded to the bucket (before the load job)'),
  LOADER_TEST_CRASH_AFTER_APPEND: setting.testCrashHook('storage-write: right after the N-th group appended to its pending write stream (before finalize and commit)'),
  LOADER_TEST_CRASH_AFTER_LOAD: setting.testCrashHook('right after the N-th group loaded (or its write stream committed) into its staging table (before the insert)'),
  LOADER_TEST_CRASH_AFTER_INSERT: setting.testCrashHook('right after the N-th group inserted into the changes table (before the MERGE)'),
  LOADER_TEST_CRASH_AFTER_MERGE: setting.testCrashHook('right after the N-th group merged (before the marking)'),
  LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES: setting.testCrashHook("right after inserting the N-th snapshot's delete rows into the changes table (before merging them)"),
  LOADER_TEST_CRASH_AFTER_MARK: setting.testCrashHook('right after marking the N-th file loaded (before the offset commit)'),
  ...perServiceSettings('loader', 8083),
};

export const loaderConfigSchema = withGcpNameChecks(kafkaServiceSchema({ ...loaderSettings, ...gcpSettings, ...readinessSettings }));

export type LoaderConfig = z.output<typeof loaderConfigSchema>;
