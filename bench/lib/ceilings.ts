// The ceilings of the pipeline benchmarks (bench/cdc.ts, bench/processor.ts, bench/e2e.ts): each runs alone in a
// fresh child process (`runCeiling(mode, spec)` starts this file with `--expose-gc <mode> <spec>`) and prints its
// result as one JSON line.
//   read     the official driver reading a change stream (fullDocument: updateLookup, promoteValues off, as the CDC does)
//   produce  the Kafka client producing the records of a CDC topic (same key, value, headers) in the CDC's batches
//   consume  the Kafka client reading a topic (read_committed, eachBatch, fresh group, the processor's prefetch bounds)
//   write    the processor's own Parquet writer writing the rows of a topic into the processor's announced files
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mongodb from 'mongodb';
import { CONSUMER_PREFETCH_BYTES_DEFAULT, consumerPrefetchBounds, KAFKA_MAX_MESSAGE_BYTES_DEFAULT } from '@cdc/core';
import { createParquetWriter, type ParquetRow } from '@cdc/processor';
import { processorConfigSchema } from '@cdc/processor/dist/config.js';
import { classifyRecord } from '@cdc/processor/dist/transform/dead-letter.js';
import { infra } from '@cdc/tests/dist/support/infra.js';
import { testKafka } from '@cdc/tests/dist/support/kafka.js';
import { cpuMeter, createTopics, memoryOf, now, pidListeningOn, readWholeTopic, type CpuShares, type TopicRecord } from './common.js';

const kafka = testKafka({ clientId: 'bench-ceiling' });
const mongoPort = Number(/:(\d+)/.exec(infra.mongoUri.replace(/^mongodb:\/\//, ''))?.[1] ?? 27017);
const kafkaPort = Number(infra.kafkaBrokers.split(',')[0]!.split(':')[1] ?? 9092);
/** the servers' processes, looked up when a measurement starts and ends (someone may restart them) */
export const serverPids = { mongo: () => pidListeningOn(mongoPort), kafka: () => pidListeningOn(kafkaPort) };

const peakRssMiB = () => memoryOf(process.pid)?.hwmMiB ?? null;

/** The CDC's batching rule (BatchBuffer): a batch closes at maxEvents records or maxBytes of value + key. */
export function batchesOf<R extends { key: Buffer | null; value: Buffer }>(records: R[], maxEvents: number, maxBytes: number): R[][] {
  const batches: R[][] = [];
  let current: R[] = [];
  let bytes = 0;
  for (const r of records) {
    current.push(r);
    bytes += r.value.length + (r.key?.length ?? 0);
    if (current.length >= maxEvents || bytes >= maxBytes) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

export interface ReadSpec {
  db: string;
  startAt: { t: number; i: number };
  events: number;
  batchSize: number;
  maxAwaitMs: number;
}
export interface ProduceSpec {
  fromTopic: string;
  toTopic: string;
  partitions: number;
  batchMaxEvents: number;
  batchMaxBytes: number;
  transactional: boolean;
}
export interface ConsumeSpec {
  topic: string;
  rows: number;
  partitionsConcurrency: number;
  /** the processor's KAFKA_CONSUMER_PREFETCH_BYTES and KAFKA_MAX_MESSAGE_BYTES: the same prefetch bounds (default: the shipped ones) */
  prefetchBytes?: number;
  maxMessageBytes?: number;
}
/** One announced file: its partition and offset range. */
export interface FileRangeSpec {
  partition: number;
  first_offset: number;
  last_offset: number;
}
export interface WriteSpec {
  topic: string;
  /** the processor's environment (its Parquet settings) */
  env: Record<string, string>;
  files: FileRangeSpec[];
}

export interface EventsCeiling {
  events: number;
  seconds: number;
  eventsPerSec: number;
  cpu: CpuShares;
  peakRssMiB: number | null;
  load?: number[];
}
export interface ProduceCeiling extends EventsCeiling {
  uniqueEventIds: number;
  payloadMiB: number;
  batches: number;
}
export interface RowsCeiling {
  rows: number;
  seconds: number;
  rowsPerSec: number;
  cpu: CpuShares;
  peakRssMiB: number | null;
  load?: number[];
}
export interface ConsumeCeiling extends RowsCeiling {
  payloadMiB: number;
}
export interface WriteCeiling extends RowsCeiling {
  files: number;
  parquetMiB: number;
  library: string;
  compression: string;
}

/** The change stream as the CDC opens it. */
function watchAsTheCdc(collection: mongodb.Collection, spec: ReadSpec) {
  return collection.watch([], {
    startAtOperationTime: new mongodb.Timestamp({ t: spec.startAt.t, i: spec.startAt.i }),
    fullDocument: 'updateLookup',
    batchSize: spec.batchSize,
    maxAwaitTimeMS: spec.maxAwaitMs,
    promoteValues: false,
  });
}

async function childRead(spec: ReadSpec): Promise<EventsCeiling> {
  const client = new mongodb.MongoClient(infra.mongoUri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  try {
    const collection = client.db(spec.db).collection('orders');
    const meter = cpuMeter({ self: process.pid, mongo: serverPids.mongo });
    const started = now();
    meter.start();
    const stream = watchAsTheCdc(collection, spec);
    let count = 0;
    while (count < spec.events) {
      if (await stream.tryNext()) count++;
    }
    const seconds = (now() - started) / 1000;
    const cpu = meter.stop();
    await stream.close();
    return { events: count, seconds, eventsPerSec: count / seconds, cpu, peakRssMiB: peakRssMiB() };
  } finally {
    await client.close();
  }
}

async function childProduce(spec: ProduceSpec): Promise<ProduceCeiling> {
  // Untimed: the exact records the CDC committed.
  const records = await readWholeTopic(kafka, spec.fromTopic);
  const eventIds = new Set(records.map((r) => String(r.headers?.event_id)));
  const payloadBytes = records.reduce((sum, r) => sum + r.value.length + (r.key?.length ?? 0), 0);
  await createTopics(kafka, [spec.toTopic], spec.partitions);
  if (spec.transactional) await createTopics(kafka, [`${spec.toTopic}-checkpoints`], 1);
  // The CDC's producer settings (core/kafka/client.ts): idempotent, acks from all in-sync replicas, Java partitioner.
  const producer = kafka.producer({
    kafkaJS: { idempotent: true, acks: -1, allowAutoTopicCreation: false, ...(spec.transactional ? { transactionalId: spec.toTopic, transactionTimeout: 60000 } : {}) },
    partitioner: 'murmur2_random',
  });
  await producer.connect();
  const batches = batchesOf(records, spec.batchMaxEvents, spec.batchMaxBytes).map((batch) => batch.map((r) => ({ key: r.key, value: r.value, headers: r.headers })));
  const meter = cpuMeter({ self: process.pid, kafka: serverPids.kafka });
  globalThis.gc?.();
  const started = now();
  meter.start();
  for (const messages of batches) {
    if (spec.transactional) {
      await producer.transaction();
      await producer.sendBatch({
        topicMessages: [
          { topic: spec.toTopic, messages },
          { topic: `${spec.toTopic}-checkpoints`, messages: [{ key: 'stream', value: JSON.stringify({ version: 1, phase: 'stream', resume_token: 'x'.repeat(16) }), partition: 0 }] },
        ],
      });
      await producer.commit();
    } else {
      await producer.send({ topic: spec.toTopic, messages });
    }
  }
  const seconds = (now() - started) / 1000;
  const cpu = meter.stop();
  await producer.disconnect();
  return {
    events: records.length,
    uniqueEventIds: eventIds.size,
    payloadMiB: payloadBytes / 2 ** 20,
    batches: batches.length,
    seconds,
    eventsPerSec: records.length / seconds,
    cpu,
    peakRssMiB: peakRssMiB(),
  };
}

async function childConsume(spec: ConsumeSpec): Promise<ConsumeCeiling> {
  const meter = cpuMeter({ self: process.pid, kafka: serverPids.kafka });
  let count = 0;
  let bytes = 0;
  let joinedAt: number | null = null;
  // The processor's consumer settings (core/kafka/client.ts createGroupConsumer), timed from the group join.
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-consume-${randomUUID()}`, readUncommitted: false, fromBeginning: true, autoCommit: false, allowAutoTopicCreation: false, maxWaitTimeInMs: 1000 },
    'isolation.level': 'read_committed',
    'js.consumer.max.batch.size': 1000,
    ...consumerPrefetchBounds(spec.prefetchBytes ?? CONSUMER_PREFETCH_BYTES_DEFAULT, spec.maxMessageBytes ?? KAFKA_MAX_MESSAGE_BYTES_DEFAULT),
    rebalance_cb: () => {
      joinedAt ??= now();
      meter.start();
    },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [spec.topic] });
  let done: (at: number) => void = () => undefined;
  const finished = new Promise<number>((resolve) => (done = resolve));
  await consumer.run({
    partitionsConsumedConcurrently: spec.partitionsConcurrency,
    eachBatch: async ({ batch }) => {
      for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
      count += batch.messages.length;
      if (count >= spec.rows) done(now());
    },
  });
  const endAt = await finished;
  const cpu = meter.stop();
  await consumer.disconnect();
  const seconds = (endAt - (joinedAt ?? endAt)) / 1000;
  return { rows: count, seconds, rowsPerSec: count / seconds, payloadMiB: bytes / 2 ** 20, cpu, peakRssMiB: peakRssMiB() };
}

async function childWrite(spec: WriteSpec): Promise<WriteCeiling> {
  const config = processorConfigSchema.parse(spec.env);
  // Untimed: the same records turned into the same rows, grouped into the processor's files.
  const records: TopicRecord[] = await readWholeTopic(kafka, spec.topic);
  const byPartition = new Map<number, ParquetRow[]>();
  for (const r of records) {
    const c = classifyRecord({ topic: spec.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp });
    if (!c.ok) throw new Error(`record ${r.partition}/${r.offset} is a dead letter: ${c.deadLetter.error}`);
    if (!byPartition.has(r.partition)) byPartition.set(r.partition, []);
    byPartition.get(r.partition)!.push(c.row);
  }
  records.length = 0;
  const files = spec.files.map((f) => (byPartition.get(f.partition) ?? []).filter((row) => row.kafka_offset >= f.first_offset && row.kafka_offset <= f.last_offset));
  byPartition.clear();
  const writer = await createParquetWriter(config.PROCESSOR_PARQUET_LIBRARY, {
    compression: config.PROCESSOR_PARQUET_COMPRESSION,
    rowGroupRows: config.PROCESSOR_PARQUET_ROW_GROUP_ROWS,
    pageRows: config.PROCESSOR_PARQUET_PAGE_ROWS,
  });
  const dir = mkdtempSync(join(tmpdir(), 'bench-write-'));
  globalThis.gc?.();
  const meter = cpuMeter({ self: process.pid });
  const started = now();
  meter.start();
  let bytes = 0;
  let rows = 0;
  try {
    for (const [k, file] of files.entries()) {
      bytes += (await writer.write(join(dir, `f${k}.parquet`), file)).bytes;
      rows += file.length;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (now() - started) / 1000;
  return { rows, files: files.length, seconds, rowsPerSec: rows / seconds, parquetMiB: bytes / 2 ** 20, library: writer.library, compression: writer.compression, cpu: meter.stop(), peakRssMiB: peakRssMiB() };
}

/** A file-ready event as read back from the files topic, with `announcedAt` (the record timestamp). */
export interface AnnouncedFile extends FileRangeSpec {
  path: string;
  rows: number;
  bytes: number;
  min_cluster_time: string;
  max_cluster_time: string;
  announcedAt: number;
}

/**
 * The announced files, checked: every input offset of every partition in exactly one file. `checkSizes: false` when a
 * loader may have moved them; `check: false` skips the row count and overlap checks (a run disturbed by a broker restart).
 */
export async function announcedFiles(filesTopic: string, rows: number, outputDir: string, { checkSizes = true, check = true } = {}): Promise<AnnouncedFile[]> {
  const records = await readWholeTopic(kafka, filesTopic);
  const files: AnnouncedFile[] = records.map((r) => ({ ...JSON.parse(String(r.value)), announcedAt: Number(r.timestamp) }));
  const total = files.reduce((sum, f) => sum + f.rows, 0);
  if (check && total !== rows) throw new Error(`announced files hold ${total} rows, expected ${rows}`);
  const byPartition = new Map<number, AnnouncedFile[]>();
  for (const f of files) {
    if (!byPartition.has(f.partition)) byPartition.set(f.partition, []);
    byPartition.get(f.partition)!.push(f);
    if (checkSizes && statSync(join(outputDir, f.path)).size !== f.bytes) throw new Error(`${f.path}: size differs from its announcement`);
  }
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.first_offset - b.first_offset);
    for (let k = 1; k < list.length; k++) {
      if (check && list[k]!.first_offset <= list[k - 1]!.last_offset) throw new Error(`partition ${partition}: files overlap at offset ${list[k]!.first_offset}`);
    }
  }
  return files;
}

/** The ranges of announced files (what a `write` ceiling needs of them). */
export const fileRanges = (files: readonly FileRangeSpec[]): FileRangeSpec[] => files.map((f) => ({ partition: f.partition, first_offset: f.first_offset, last_offset: f.last_offset }));

interface Ceilings {
  read: [ReadSpec, EventsCeiling];
  produce: [ProduceSpec, ProduceCeiling];
  consume: [ConsumeSpec, ConsumeCeiling];
  write: [WriteSpec, WriteCeiling];
}
const children: { [M in keyof Ceilings]: (spec: Ceilings[M][0]) => Promise<Ceilings[M][1]> } = { read: childRead, produce: childProduce, consume: childConsume, write: childWrite };

/** Runs one ceiling in a fresh process; returns its result. */
export function runCeiling<M extends keyof Ceilings>(mode: M, spec: Ceilings[M][0]): Ceilings[M][1] {
  const text = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), mode, JSON.stringify(spec)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    timeout: 15 * 60 * 1000, // a broker that went away for good must not hang the benchmark
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(text.trim().split('\n').at(-1)!);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, spec] = process.argv.slice(2) as [keyof Ceilings, string];
  const out = await (children[mode] as (spec: unknown) => Promise<unknown>)(JSON.parse(spec));
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}
