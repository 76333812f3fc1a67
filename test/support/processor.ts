// Helpers for processor tests: envelopes in, committed offsets and announced Parquet files out.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { BSON, documentIdOf, eventIdFromResumeToken, snapshotEventId, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { readTopic, testProducer, type Kafka } from './kafka.js';
export { sleep, waitFor } from './wait.js';
export { waitForCommittedToEnd } from './kafka.js';

const { Decimal128, Int32, Long } = BSON;

/** `config`: topic configs (e.g. `max.message.bytes`), as kafka-configs names them. */
export async function createTopic(kafka: Kafka, topic: string, numPartitions: number, config: Record<string, string> = {}): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const configEntries = Object.entries(config).map(([name, value]) => ({ name, value }));
    await admin.createTopics({ topics: [{ topic, numPartitions, replicationFactor: 1, configEntries }] });
  } finally {
    await admin.disconnect();
  }
}

/** A valid envelope for order `n` (nested items, Decimal128 prices as canonical Extended JSON). */
export function orderEvent(op: Operation, n: number, db = 'shop'): ChangeEvent {
  const id = new Int32(n);
  const clusterTime = { t: 1764151872 + n, i: (n % 7) + 1 };
  const document = {
    _id: id,
    status: op,
    total: Decimal128.fromString(`${n}.99`),
    order_no: Long.fromNumber(1_000_000 + n),
    items: [
      { sku: `A-${n}`, qty: new Int32(1), price: Decimal128.fromString('10.50') },
      { sku: `B-${n}`, qty: new Int32(2), price: Decimal128.fromString('0.245') },
    ],
  };
  const snapshot = op === 'snapshot';
  const documentId = documentIdOf({ _id: id });
  return {
    schema_version: 1,
    event_id: snapshot ? snapshotEventId(db, 'orders', documentId, clusterTime) : eventIdFromResumeToken(`82${n}`),
    op,
    db,
    coll: 'orders',
    document_id: documentId,
    document: op === 'delete' ? null : toCanonicalJson(document),
    document_before: op === 'update' ? toCanonicalJson({ _id: id, status: 'new' }) : null,
    update_description: op === 'update' ? { updated_fields: toCanonicalJson({ status: 'update' }), removed_fields: ['note'], truncated_arrays: [] } : null,
    cluster_time: clusterTime,
    wall_time: snapshot ? null : new Date(clusterTime.t * 1000 + 123).toISOString(),
    resume_token: snapshot ? null : `82${n}`,
    source: { instance: 'cdc-0', snapshot },
  };
}

export interface Produced {
  partition: number;
  offset: number;
  key: string;
  value: Buffer;
  event: ChangeEvent | null;
}

/** Sends records to explicit partitions (plain producer: read_committed consumers see them) and returns their offsets. */
export async function produce(kafka: Kafka, topic: string, records: { partition: number; key: string; value: Buffer | string; event?: ChangeEvent }[]): Promise<Produced[]> {
  const producer = testProducer(kafka);
  await producer.connect();
  const produced: Produced[] = [];
  try {
    // One send per record keeps the offsets knowable without relying on batching details.
    for (const record of records) {
      const value = typeof record.value === 'string' ? Buffer.from(record.value) : record.value;
      const [meta] = await producer.send({ topic, messages: [{ partition: record.partition, key: record.key, value }] });
      produced.push({ partition: record.partition, offset: Number(meta!.baseOffset), key: record.key, value, event: record.event ?? null });
    }
  } finally {
    await producer.disconnect();
  }
  return produced;
}

export interface FileEvent {
  file_id: string;
  path: string;
  topic: string;
  partition: number;
  first_offset: number;
  last_offset: number;
  rows: number;
  bytes: number;
  md5: string;
  crc32c: string;
  ops: Record<string, number>;
  dead_letters: number;
  min_cluster_time: string;
  max_cluster_time: string;
  schema_version: number;
  key: string;
}

/** Every committed file-ready event (the transaction commits them with the offsets, so after waitForCommittedToEnd all are visible). */
export async function announcedFiles(kafka: Kafka, filesTopic: string, minCount = 1): Promise<FileEvent[]> {
  const messages = await readTopic(kafka, filesTopic, { minCount, quietMs: 800 });
  return messages.map((m) => ({ ...JSON.parse(String(m.value)), key: String(m.key) }));
}

let duck: DuckDBConnection | null = null;

/** Rows of Parquet files read by DuckDB, with the column types it sees. */
export async function readParquet(paths: string[], columns = '*'): Promise<{ rows: Record<string, unknown>[]; types: Record<string, string> }> {
  duck ??= await (await DuckDBInstance.create(':memory:')).connect();
  const list = `[${paths.map((p) => `'${p.replaceAll("'", "''")}'`).join(', ')}]`;
  const described = (await duck.runAndReadAll(`DESCRIBE SELECT ${columns} FROM read_parquet(${list}, hive_partitioning = false)`)).getRowObjectsJS() as { column_name: string; column_type: string }[];
  const rows = (await duck.runAndReadAll(`SELECT ${columns} FROM read_parquet(${list}, hive_partitioning = false) ORDER BY kafka_partition, kafka_offset`)).getRowObjectsJS() as Record<string, unknown>[];
  return { rows, types: Object.fromEntries(described.map((d) => [d.column_name, d.column_type])) };
}

export function md5Base64(path: string): string {
  return createHash('md5').update(readFileSync(path)).digest('base64');
}

/**
 * The exactly-once contract: every announced file exists with its checksum, announced ranges of a partition never
 * overlap, and the announced files hold each expected event exactly once (and nothing else).
 */
export async function assertExactlyOnce(
  assert: typeof import('node:assert/strict'),
  outputDir: string,
  files: FileEvent[],
  expected: Produced[],
): Promise<void> {
  assert.equal(new Set(files.map((f) => f.file_id)).size, files.length, 'a file is announced once');
  for (const file of files) {
    const absolute = join(outputDir, file.path);
    assert.ok(existsSync(absolute), `announced file ${file.path} exists`);
    assert.equal(md5Base64(absolute), file.md5, `${file.path} has the announced md5`);
    assert.equal(file.key, `${file.topic}-${file.partition}`);
  }
  const byPartition = new Map<number, FileEvent[]>();
  for (const file of files) byPartition.set(file.partition, [...(byPartition.get(file.partition) ?? []), file]);
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.first_offset - b.first_offset);
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]!.first_offset > list[i - 1]!.last_offset, `partition ${partition}: ${list[i - 1]!.file_id} and ${list[i]!.file_id} overlap`);
    }
  }
  const { rows } = await readParquet(
    files.map((f) => join(outputDir, f.path)),
    'kafka_partition, kafka_offset, event_id',
  );
  const seen = new Map<string, number>();
  for (const row of rows) {
    const key = `${row.kafka_partition}:${row.kafka_offset}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  const duplicates = [...seen].filter(([, count]) => count > 1).map(([key]) => key);
  assert.deepEqual(duplicates, [], 'no event is in two announced files');
  const missing = expected.filter((p) => !seen.has(`${p.partition}:${p.offset}`)).map((p) => `${p.partition}:${p.offset}`);
  assert.deepEqual(missing, [], 'no event is missing');
  assert.equal(rows.length, expected.length, 'nothing but the expected events');
  const eventIds = new Map(expected.map((p) => [`${p.partition}:${p.offset}`, p.event?.event_id]));
  for (const row of rows) assert.equal(row.event_id, eventIds.get(`${row.kafka_partition}:${row.kafka_offset}`));
  for (const file of files) {
    const inFile = rows.filter((r) => r.kafka_partition === file.partition && Number(r.kafka_offset) >= file.first_offset && Number(r.kafka_offset) <= file.last_offset);
    assert.equal(inFile.length, file.rows, `${file.file_id}: announced row count`);
  }
}
