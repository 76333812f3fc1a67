// The ceilings of the pipeline benchmarks (bench/cdc.mjs, bench/processor.mjs, bench/e2e.mjs): each runs alone in a
// fresh child process (`runCeiling(mode, spec)` starts this file with `--expose-gc <mode> <spec>`) and prints its
// result as one JSON line.
//   read     the official driver reading a change stream (fullDocument: updateLookup, promoteValues off, as the CDC does)
//   produce  the Kafka client producing the records of a CDC topic (same key, value, headers) in the CDC's batches
//   consume  the Kafka client reading a topic (read_committed, eachBatch, fresh group)
//   write    the processor's own Parquet writer writing the rows of a topic into the processor's announced files
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as mongodb from 'mongodb';
import { cpuMeter, createTopics, infra, memoryOf, now, pidListeningOn, readWholeTopic, repoRoot } from './common.mjs';
import { benchKafka } from './service-bench.mjs';

const kafka = benchKafka('bench-ceiling');
const mongoPort = Number(/:(\d+)/.exec(infra.mongoUri.replace(/^mongodb:\/\//, ''))?.[1] ?? 27017);
const kafkaPort = Number(infra.kafkaBrokers.split(',')[0].split(':')[1] ?? 9092);
/** the servers' processes, looked up when a measurement starts and ends (someone may restart them) */
export const serverPids = { mongo: () => pidListeningOn(mongoPort), kafka: () => pidListeningOn(kafkaPort) };
const kafkaPid = serverPids.kafka;
const dist = join(repoRoot, 'services', 'processor', 'dist');

/** The CDC's batching rule (BatchBuffer): a batch closes at maxEvents records or maxBytes of value + key. */
export function batchesOf(records, maxEvents, maxBytes) {
  const batches = [];
  let current = [];
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

/** The change stream as the CDC opens it. */
function watchAsTheCdc(collection, spec) {
  return collection.watch([], {
    startAtOperationTime: new mongodb.Timestamp({ t: spec.startAt.t, i: spec.startAt.i }),
    fullDocument: 'updateLookup',
    batchSize: spec.batchSize,
    maxAwaitTimeMS: spec.maxAwaitMs,
    promoteValues: false,
  });
}

export async function childRead(spec) {
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
    return { events: count, seconds, eventsPerSec: count / seconds, cpu, peakRssMiB: memoryOf(process.pid).hwmMiB };
  } finally {
    await client.close();
  }
}

export async function childProduce(spec) {
  // Untimed: the exact records the CDC committed.
  const records = await readWholeTopic(kafka, spec.fromTopic);
  const eventIds = new Set(records.map((r) => String(r.headers.event_id)));
  const payloadBytes = records.reduce((sum, r) => sum + r.value.length + (r.key?.length ?? 0), 0);
  await createTopics(kafka, [spec.toTopic], spec.partitions);
  if (spec.transactional) await createTopics(kafka, [`${spec.toTopic}-checkpoints`], 1);
  // The CDC's producer settings (core/kafka/client.ts): idempotent, acks from all in-sync replicas, Java partitioner.
  const producer = kafka.producer({
    kafkaJS: { idempotent: true, acks: -1, allowAutoTopicCreation: false, ...(spec.transactional ? { transactionalId: spec.toTopic, transactionTimeout: 60000 } : {}) },
    partitioner: 'murmur2_random',
  });
  await producer.connect();
  const batches = batchesOf(records, spec.batchMaxEvents, spec.batchMaxBytes).map((batch) =>
    batch.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
  );
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
    peakRssMiB: memoryOf(process.pid).hwmMiB,
  };
}

export async function childConsume(spec) {
  const { randomUUID } = await import('node:crypto');
  const meter = cpuMeter({ self: process.pid, kafka: kafkaPid });
  let count = 0;
  let bytes = 0;
  let joinedAt = null;
  // The processor's consumer settings (core/kafka/client.ts createGroupConsumer), timed from the group join.
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-consume-${randomUUID()}`, readUncommitted: false, fromBeginning: true, autoCommit: false, allowAutoTopicCreation: false, maxWaitTimeInMs: 1000 },
    'isolation.level': 'read_committed',
    'js.consumer.max.batch.size': 1000,
    rebalance_cb: () => {
      joinedAt ??= now();
      meter.start();
    },
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [spec.topic] });
  let done;
  const finished = new Promise((resolve) => (done = resolve));
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
  const seconds = (endAt - joinedAt) / 1000;
  return { rows: count, seconds, rowsPerSec: count / seconds, payloadMiB: bytes / 2 ** 20, cpu, peakRssMiB: memoryOf(process.pid).hwmMiB };
}

export async function childWrite(spec) {
  const { classifyRecord } = await import(join(dist, 'transform', 'dead-letter.js'));
  const { createParquetWriter } = await import(join(dist, 'sink', 'parquet-writer.js'));
  const { processorConfigSchema } = await import(join(dist, 'config.js'));
  const config = processorConfigSchema.parse(spec.env);
  // Untimed: the same records turned into the same rows, grouped into the processor's files.
  const records = await readWholeTopic(kafka, spec.topic);
  const byPartition = new Map();
  for (const r of records) {
    const c = classifyRecord({ topic: spec.topic, partition: r.partition, offset: r.offset, key: r.key, value: r.value, timestamp: r.timestamp });
    if (!c.ok) throw new Error(`record ${r.partition}/${r.offset} is a dead letter: ${c.deadLetter.error}`);
    if (!byPartition.has(r.partition)) byPartition.set(r.partition, []);
    byPartition.get(r.partition).push(c.row);
  }
  records.length = 0;
  const files = spec.files.map((f) => byPartition.get(f.partition).filter((row) => row.kafka_offset >= f.first_offset && row.kafka_offset <= f.last_offset));
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
    for (let k = 0; k < files.length; k++) {
      bytes += (await writer.write(join(dir, `f${k}.parquet`), files[k])).bytes;
      rows += files[k].length;
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (now() - started) / 1000;
  return { rows, files: files.length, seconds, rowsPerSec: rows / seconds, parquetMiB: bytes / 2 ** 20, library: writer.library, compression: writer.compression, cpu: meter.stop(), peakRssMiB: memoryOf(process.pid).hwmMiB };
}

/**
 * The announced files, checked: every input offset of every partition in exactly one file. `checkSizes: false` when a
 * loader may have moved them; `full` returns the whole file-ready events (with `announcedAt`, the record timestamp);
 * `check: false` skips the row count and overlap checks (a run disturbed by a broker restart).
 */
export async function announcedFiles(filesTopic, rows, outputDir, { checkSizes = true, full = false, check = true } = {}) {
  const records = await readWholeTopic(kafka, filesTopic);
  const files = records.map((r) => ({ ...JSON.parse(String(r.value)), announcedAt: Number(r.timestamp) }));
  const total = files.reduce((sum, f) => sum + f.rows, 0);
  if (check && total !== rows) throw new Error(`announced files hold ${total} rows, expected ${rows}`);
  const byPartition = new Map();
  for (const f of files) {
    if (!byPartition.has(f.partition)) byPartition.set(f.partition, []);
    byPartition.get(f.partition).push(f);
    if (checkSizes && statSync(join(outputDir, f.path)).size !== f.bytes) throw new Error(`${f.path}: size differs from its announcement`);
  }
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => a.first_offset - b.first_offset);
    for (let k = 1; k < list.length; k++) {
      if (check && list[k].first_offset <= list[k - 1].last_offset) throw new Error(`partition ${partition}: files overlap at offset ${list[k].first_offset}`);
    }
  }
  if (full) return files;
  return files.map((f) => ({ partition: f.partition, first_offset: f.first_offset, last_offset: f.last_offset, rows: f.rows, bytes: f.bytes }));
}

const children = { read: childRead, produce: childProduce, consume: childConsume, write: childWrite };

/** Runs one ceiling in a fresh process; returns its result. */
export function runCeiling(mode, spec) {
  const text = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), mode, JSON.stringify(spec)], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    timeout: 15 * 60 * 1000, // a broker that went away for good must not hang the benchmark
    env: process.env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(text.trim().split('\n').at(-1));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, spec] = process.argv.slice(2);
  const out = await children[mode](JSON.parse(spec));
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}
