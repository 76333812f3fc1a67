// Helpers for loader tests: real Parquet files written the processor's way, their file-ready events, and
// BigQuery/Cloud Storage emulator access.
import { join } from 'node:path';
import type { Collection, Document } from 'mongodb';
import { testProducer, type Kafka } from './kafka.js';
import {
  BSON,
  documentIdOf,
  encodeChangeEvent,
  eventIdFromResumeToken,
  fromCanonicalJson,
  snapshotEventId,
  toCanonicalJson,
  type ChangeEvent,
  type FileReadyEvent,
  type Operation,
  type ParquetStore,
} from '@cdc/core';
import { createGcpClients, type GcpClients, type GcpConfig } from '@cdc/core/gcp';
import { batchStats, createParquetWriter, fileEventKey, fileReadyEvent, FileStore, relativeFilePath, toRow } from '@cdc/processor';
import { infra, uniqueName } from './infra.js';
import { repoRoot, startService, type ServiceProcess } from './service-process.js';

const { Int32, Decimal128 } = BSON;

export interface LoaderScenario {
  prefix: string;
  /** BigQuery dataset (unique per test) */
  dataset: string;
  bucket: string;
  /** source topic the files pretend to come from */
  topic: string;
  filesTopic: string;
  group: string;
  inputDir: string;
  gcpConfig: GcpConfig;
  env(extra?: Record<string, string>): Record<string, string>;
}

/**
 * Grouping for the emulator, which has no load-job quota: short windows, unpaced, so tests run in seconds.
 * Every scenario gets it; a test of the shipped defaults removes it (`shippedGrouping`).
 */
export const EMULATOR_GROUPING = { LOADER_GROUP_WINDOW_MS: '500', LOADER_LOAD_JOBS_PER_DAY: '100000' };

/** The environment without the emulator grouping: the shipped defaults apply. */
export function shippedGrouping(env: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([key]) => !(key in EMULATOR_GROUPING)));
}

export function loaderScenario(name: string): LoaderScenario {
  const prefix = uniqueName(`load-${name}`);
  const dataset = prefix.replaceAll('-', '_');
  const s = {
    prefix,
    dataset,
    bucket: prefix,
    topic: `${prefix}-orders-cdc`,
    filesTopic: `${prefix}-files`,
    group: `${prefix}-loader`,
    inputDir: join(repoRoot, '.run', 'test-data', prefix),
  };
  const gcpConfig: GcpConfig = {
    GCP_PROJECT: infra.bigqueryProject,
    BQ_DATASET: dataset,
    BQ_LOCATION: 'US',
    BQ_CHANGES_TABLE: 'orders_changes',
    BQ_CURRENT_TABLE: 'orders_current',
    GCS_BUCKET: s.bucket,
    GCS_STAGING_MAX_AGE_DAYS: 7,
    GCS_ENDPOINT: infra.gcsEndpoint,
    BIGQUERY_ENDPOINT: infra.bigqueryEndpoint,
  };
  return {
    ...s,
    gcpConfig,
    env: (extra = {}) => ({
      KAFKA_BROKERS: infra.kafkaBrokers,
      KAFKA_CLIENT_ID: prefix,
      KAFKA_TOPIC_PARTITIONS: '2',
      LOADER_GROUP_ID: s.group,
      LOADER_FILES_TOPIC: s.filesTopic,
      LOADER_INPUT_DIR: s.inputDir,
      LOADER_SESSION_TIMEOUT_MS: '6000',
      LOADER_RETRY_BASE_MS: '100',
      LOADER_RETRY_MAX_MS: '1000',
      GCP_PROJECT: infra.bigqueryProject,
      BQ_DATASET: dataset,
      GCS_BUCKET: s.bucket,
      GCS_ENDPOINT: infra.gcsEndpoint,
      BIGQUERY_ENDPOINT: infra.bigqueryEndpoint,
      LOADER_STORAGE_WRITE_ENDPOINT: infra.bigqueryGrpcEndpoint,
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...EMULATOR_GROUPING,
      ...extra,
    }),
  };
}

let clients: GcpClients | null = null;

export function testGcp(config: GcpConfig): GcpClients {
  clients ??= createGcpClients(config);
  return clients;
}

/** Rows of a query against the BigQuery emulator, integers as numbers, timestamps as ISO strings. */
export async function bqRows(config: GcpConfig, query: string): Promise<Record<string, unknown>[]> {
  const [rows] = await testGcp(config).bigquery.query({ query });
  return (rows as Record<string, unknown>[]).map((row) =>
    Object.fromEntries(Object.entries(row).map(([k, v]) => [k, v !== null && typeof v === 'object' && 'value' in v ? String((v as { value: unknown }).value) : v])),
  );
}

export function table(config: GcpConfig, name: string): string {
  return `\`${config.GCP_PROJECT}.${config.BQ_DATASET}.${name}\``;
}

/** One change of order `doc`: `seq` makes the event id unique (same seq = same event, a duplicate). */
export function orderChange(op: Operation, doc: number, clusterTime: { t: number; i: number }, seq: number, options: { nullDocument?: boolean; status?: string } = {}): ChangeEvent {
  const id = new Int32(doc);
  const documentId = documentIdOf({ _id: id });
  const snapshot = op === 'snapshot';
  const document =
    op === 'delete' || options.nullDocument ? null : toCanonicalJson({ _id: id, status: options.status ?? `${op}-${seq}`, total: Decimal128.fromString(`${doc}.${seq % 100}`) });
  return {
    schema_version: 1,
    event_id: snapshot ? snapshotEventId('shop', 'orders', documentId, clusterTime) : eventIdFromResumeToken(`82-${doc}-${seq}`),
    op,
    db: 'shop',
    coll: 'orders',
    document_id: documentId,
    document,
    document_before: null,
    update_description: op === 'update' ? { updated_fields: toCanonicalJson({ status: `${op}-${seq}` }), removed_fields: [], truncated_arrays: [] } : null,
    cluster_time: clusterTime,
    wall_time: snapshot ? null : new Date(clusterTime.t * 1000 + 5).toISOString(),
    resume_token: snapshot ? null : `82-${doc}-${seq}`,
    source: { instance: 'cdc-0', snapshot },
  };
}

export interface WrittenTestFile {
  event: FileReadyEvent;
  /** the event as published: key and JSON value */
  key: string;
  value: string;
  /** the local path, or gs://bucket/object */
  absolutePath: string;
}

let store: FileStore | null = null;

/**
 * Writes the events as one Parquet file the way the processor does (same writer, same layout, same event) for
 * source offsets firstOffset, firstOffset+1, ..., into a local directory or another store (a bucket prefix).
 */
export async function writeTestFile(inputDir: string | ParquetStore, topic: string, partition: number, firstOffset: number, events: ChangeEvent[]): Promise<WrittenTestFile> {
  const writer = await createParquetWriter('@dsnp/parquetjs', { compression: 'ZSTD', rowGroupRows: 10000, pageRows: 8192 });
  store = new FileStore(inputDir, writer);
  const rows = events.map((event, k) => toRow(event, { topic, partition, offset: firstOffset + k }));
  const range = { topic, partition, firstOffset, lastOffset: firstOffset + events.length - 1 };
  const stats = batchStats(rows);
  const path = relativeFilePath(range, stats.minClusterTime!);
  const checksums = await store.writeAtomically(path, rows);
  const event = fileReadyEvent({ range, path, rows: rows.length, checksums, location: store.bucketLocation, stats, deadLetters: 0, compression: writer.compression, writer: writer.library }, new Date());
  return { event, key: fileEventKey(topic, partition), value: JSON.stringify(event), absolutePath: store.absolute(path) };
}

/** Publishes file-ready events (plain producer) in the given order. */
export async function publishFileEvents(kafka: Kafka, filesTopic: string, files: { key: string; value: string }[]): Promise<void> {
  const producer = testProducer(kafka);
  await producer.connect();
  try {
    for (const file of files) await producer.send({ topic: filesTopic, messages: [{ key: file.key, value: file.value }] });
  } finally {
    await producer.disconnect();
  }
}

/** The expected current state: per document the newest state-carrying change (a change beats a snapshot at a tie), deletes removed. */
export function expectedCurrent(events: readonly ChangeEvent[]): Map<string, ChangeEvent> {
  const newest = new Map<string, ChangeEvent>();
  const newer = (a: ChangeEvent, b: ChangeEvent) =>
    a.cluster_time.t - b.cluster_time.t || a.cluster_time.i - b.cluster_time.i || (a.source.snapshot ? 0 : 1) - (b.source.snapshot ? 0 : 1);
  for (const event of events) {
    if (event.op === 'update' && event.document === null) continue;
    const seen = newest.get(event.document_id);
    if (!seen || newer(event, seen) > 0) newest.set(event.document_id, event);
  }
  return new Map([...newest].filter(([, e]) => e.op !== 'delete'));
}

export { encodeChangeEvent };

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command-line tool of the repository (`<dir>/dist/main.js`) to completion, optionally with stdin. */
export async function runCli(relativeMain: string, args: string[], env: Record<string, string>, input?: string): Promise<CliResult> {
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [join(repoRoot, relativeMain), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin.end(input ?? '');
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { code, stdout, stderr };
}

/** The variables of a scenario the command-line tools read. */
export function gcpEnv(s: LoaderScenario, extra: Record<string, string> = {}): Record<string, string> {
  return {
    GCP_PROJECT: s.gcpConfig.GCP_PROJECT,
    BQ_DATASET: s.dataset,
    GCS_BUCKET: s.bucket,
    GCS_ENDPOINT: infra.gcsEndpoint,
    BIGQUERY_ENDPOINT: infra.bigqueryEndpoint,
    ...extra,
  };
}

/** The processor feeding a scenario's loader from its cdc topic (end to end): `partitions` of the topics it makes. */
export function pipelineProcessorEnv(s: LoaderScenario, partitions: number): Record<string, string> {
  return {
    KAFKA_BROKERS: infra.kafkaBrokers,
    KAFKA_CLIENT_ID: `${s.prefix}-processor`,
    KAFKA_TOPIC_PARTITIONS: String(partitions),
    PROCESSOR_GROUP_ID: `${s.prefix}-processor`,
    PROCESSOR_TOPICS: s.topic,
    PROCESSOR_FILES_TOPIC: s.filesTopic,
    PROCESSOR_OUTPUT_DIR: s.inputDir,
    PROCESSOR_BATCH_MAX_AGE_MS: '500',
  };
}

/**
 * The processor and the loader of scenario `s` behind a cdc capturing a scope into topics named by `template`: the
 * processor follows the template (PROCESSOR_TOPIC_TEMPLATE), so the topics of collections appearing later are read
 * too. Both started, not yet waited for.
 */
export async function startScopeWarehouse(s: LoaderScenario, template: string, label: string): Promise<ServiceProcess[]> {
  const processorEnv: Record<string, string> = { ...pipelineProcessorEnv(s, 3), PROCESSOR_TOPIC_TEMPLATE: template };
  delete processorEnv.PROCESSOR_TOPICS;
  return [await startService('loader', s.env(), `loader-${label}`), await startService('processor', processorEnv, `processor-${label}`)];
}

/** Documents keyed by their canonical _id, each as plain JSON: the form both sides of a comparison are brought to. */
export type DocumentsById = Map<string, string>;

const plainJson = (canonical: string) => JSON.stringify(fromCanonicalJson(canonical));

/** orders_current of database `db` (of its collection `coll` only, if given), per collection: document_id -> document. */
export async function currentByCollection(s: LoaderScenario, db: string, coll?: string): Promise<Map<string, DocumentsById>> {
  const only = coll === undefined ? '' : ` AND coll = '${coll}'`;
  const rows = await bqRows(s.gcpConfig, `SELECT coll, document_id, document FROM ${table(s.gcpConfig, 'orders_current')} WHERE db = '${db}'${only}`);
  const collections = new Map<string, DocumentsById>();
  for (const row of rows) {
    const documents = collections.get(String(row.coll)) ?? new Map<string, string>();
    documents.set(String(row.document_id), plainJson(String(row.document)));
    collections.set(String(row.coll), documents);
  }
  return collections;
}

/** A MongoDB collection as orders_current would hold it. */
export async function documentsOf<T extends Document>(collection: Collection<T>): Promise<DocumentsById> {
  const documents = await collection.find({}, { promoteValues: false }).toArray();
  return new Map(documents.map((doc) => [toCanonicalJson(doc._id), plainJson(toCanonicalJson(doc))]));
}

export const sameDocuments = (a: DocumentsById | undefined, b: DocumentsById): boolean =>
  (a?.size ?? 0) === b.size && [...b].every(([id, doc]) => a?.get(id) === doc);
