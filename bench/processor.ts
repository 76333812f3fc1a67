// Processor throughput benchmark: rows/s from a CDC topic to durable, announced Parquet files, with the real service
// (`services/processor/dist/main.js`) started as a process, against two ceilings measured in the same run:
//   consume  the Kafka client reading the same topic (read_committed, eachBatch, same partition concurrency, fresh group)
//   write    the processor's own Parquet writer (services/processor/dist/sink/parquet-writer.js, same library,
//            compression and row groups) writing the same rows into the same files (the processor's announced
//            offset ranges), without fsync / checksums / Kafka
//
// Method: a topic is pre-filled with N envelopes of realistic orders (Kafka transactions of 2000 records, like the
// CDC). The processor starts with a fresh consumer group and is timed from its group join until
// processor_rows_written_total reaches N (rows in renamed, fsynced files whose file-ready event is committed); the
// files topic is then read back and checked (every offset in exactly one file). Each ceiling runs in a fresh child
// process. Each round uses a fresh group, files topic and output directory on the same input topic.
//
//   npx tsc -b && node bench/dist/processor.js [--rows 200000] [--runs 3] [--partitions 6] [--env PROCESSOR_BATCH_MAX_AGE_MS=2000,...]
//   node bench/dist/processor.js --cpu-prof              also write V8 CPU profiles of the service, one per thread (.run/bench-logs/profiles/<run>/)
//   node bench/dist/processor.js --variants '[{"name":"a"},{"name":"b","env":{"PROCESSOR_BATCH_MAX_AGE_MS":"1000"}}]'
//                                                   compare settings on the same topic ("nodeArgs", and "dist": another build)
//
// KAFKA_BROKERS selects the broker (default: the local infrastructure). Results: bench/results/processor-*.json.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BSON, documentIdOf, encodeChangeEvent, eventIdFromResumeToken, snapshotEventId, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { processorConfigSchema } from '@cdc/processor/dist/config.js';
import { infra, uniqueName } from '@cdc/tests/dist/support/infra.js';
import { testKafka } from '@cdc/tests/dist/support/kafka.js';
import { metricValue, repoRoot } from '@cdc/tests/dist/support/service-process.js';
import { createTopics, deleteTopics, fmt, load, logDir, now, orderFactory, reasonOf, saveResult, waitForServers } from './lib/common.js';
import { announcedFiles, fileRanges, runCeiling, serverPids, type ConsumeCeiling, type WriteCeiling } from './lib/ceilings.js';
import { mediansByVariant, nodeArgsOf, printRetries, runRounds, serviceBenchOptions, serviceBenchSettings, serviceRunFigures, startBenchService, timeService, type RoundRetry, type ServiceRunFigures, type Variant } from './lib/service-bench.js';

const { values: args } = parseArgs({
  options: {
    ...serviceBenchOptions,
    rows: { type: 'string', default: process.env.BENCH_ROWS ?? '200000' },
    runs: { type: 'string', default: '3' },
  },
});
const { extraEnv, variants } = serviceBenchSettings(args);

const kafka = testKafka({ clientId: 'bench-processor' });
/** looked up when a measurement starts and ends (someone may restart the broker) */
const kafkaPid = serverPids.kafka;

// ------------------------------------------------------------------ input

/**
 * N envelopes of realistic orders (ops: 10% snapshot, 50% insert, 30% update, 5% replace, 5% delete), produced as
 * the CDC does: keyed by document, with its headers, in transactions of 2000 records.
 */
async function prefill(topic: string, rows: number, partitions: number) {
  const factory = orderFactory(BSON, 7);
  const { random, statuses } = factory;
  await createTopics(kafka, [topic], partitions);
  const producer = kafka.producer({ kafkaJS: { transactionalId: `${topic}-prefill`, idempotent: true, acks: -1, allowAutoTopicCreation: false }, partitioner: 'murmur2_random' });
  await producer.connect();
  const baseSeconds = Math.floor(Date.now() / 1000) - 3600;
  let bytes = 0;
  const started = now();
  try {
    for (let from = 0; from < rows; from += 2000) {
      const messages = [];
      for (let n = from; n < Math.min(rows, from + 2000); n++) {
        const order = factory.order(n, new BSON.ObjectId(n.toString(16).padStart(24, '0')));
        const r = random();
        const op: Operation = r < 0.1 ? 'snapshot' : r < 0.6 ? 'insert' : r < 0.9 ? 'update' : r < 0.95 ? 'replace' : 'delete';
        if (op !== 'insert' && op !== 'snapshot') order.status = statuses[Math.floor(random() * statuses.length)]!;
        const clusterTime = { t: baseSeconds + Math.floor(n / 100), i: (n % 100) + 1 };
        const token = `8265${n.toString(16).padStart(20, '0')}`;
        const documentId = documentIdOf({ _id: order._id });
        const event = {
          schema_version: 1,
          event_id: op === 'snapshot' ? snapshotEventId('shop', 'orders', documentId, clusterTime) : eventIdFromResumeToken(token),
          op,
          db: 'shop',
          coll: 'orders',
          document_id: documentId,
          document: op === 'delete' ? null : toCanonicalJson(order),
          update_description: op === 'update' ? { updated_fields: toCanonicalJson({ status: order.status, updated_at: order.updated_at }), removed_fields: [], truncated_arrays: [] } : null,
          cluster_time: clusterTime,
          wall_time: op === 'snapshot' ? null : new Date(clusterTime.t * 1000 + (n % 1000)).toISOString(),
          resume_token: op === 'snapshot' ? null : token,
          source: { instance: 'cdc-0', snapshot: op === 'snapshot' },
        } as ChangeEvent;
        const value = encodeChangeEvent(event);
        bytes += value.length + documentId.length;
        messages.push({ key: documentId, value, headers: { event_id: event.event_id, op, schema_version: '1' } });
      }
      await producer.transaction();
      await producer.send({ topic, messages });
      await producer.commit();
    }
  } finally {
    await producer.disconnect();
  }
  return { rows, payloadMiB: bytes / 2 ** 20, seconds: (now() - started) / 1000 };
}

// ------------------------------------------------------------------ the processor itself

function processorEnv(prefix: string, inputTopic: string, extra: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKERS: infra.kafkaBrokers,
    KAFKA_CLIENT_ID: prefix,
    KAFKA_TOPIC_PARTITIONS: args.partitions,
    PROCESSOR_TOPICS: inputTopic,
    PROCESSOR_GROUP_ID: `${prefix}-group`,
    PROCESSOR_FILES_TOPIC: `${prefix}-files`,
    PROCESSOR_OUTPUT_DIR: join(repoRoot, '.run', 'bench-data', prefix),
    ...extra,
  };
}

interface ProcessorRun extends ServiceRunFigures {
  rows: number;
  rowsPerSec: number;
  /** rows per CPU-second of the service's process (every thread) */
  rowsPerCpuSecond: number | null;
  files: number;
  parquetMiB: number;
  closeReasons: Record<string, number>;
  fileWriteSecondsSum: number;
  lastFileAfterSeconds: number | null;
  deadLetters: number;
  env: Record<string, string>;
}

async function timeProcessor(prefix: string, inputTopic: string, rows: number, extra: Record<string, string>, nodeArgText: string, label: string, distDir?: string): Promise<ProcessorRun> {
  // one directory per run: the consuming thread and the Parquet encoding thread each write their own profile
  const profile = args['cpu-prof'] ? { dir: join(logDir, 'profiles', label) } : null;
  if (profile) mkdirSync(profile.dir, { recursive: true });
  const env = processorEnv(prefix, inputTopic, extra);
  const processor = await startBenchService('processor', env, label, nodeArgsOf(nodeArgText, profile), distDir);
  try {
    const run = await timeService(processor, {
      name: 'processor',
      ready: /joined the consumer group/,
      metric: 'processor_rows_written_total',
      target: rows,
      unit: 'rows',
      pids: { kafka: kafkaPid },
      sample: (text, written) => ({ written, openRows: metricValue(text, 'processor_open_batch_rows') }),
    });
    const figures = serviceRunFigures(processor, run);
    const fileLines = processor.lines.filter((l) => l.text.includes('file committed')).map((l) => ({ at: l.at, ...(JSON.parse(l.text) as { reason: string }) }));
    return {
      ...figures,
      rows: run.count,
      rowsPerSec: run.count / figures.seconds,
      rowsPerCpuSecond: figures.cpu.processor ? run.count / figures.seconds / figures.cpu.processor : null,
      files: metricValue(run.metricsText, 'processor_files_written_total'),
      parquetMiB: metricValue(run.metricsText, 'processor_bytes_written_total') / 2 ** 20,
      closeReasons: fileLines.reduce<Record<string, number>>((acc, f) => ({ ...acc, [f.reason]: (acc[f.reason] ?? 0) + 1 }), {}),
      fileWriteSecondsSum: metricValue(run.metricsText, 'processor_file_write_seconds_sum'),
      lastFileAfterSeconds: fileLines.length ? (fileLines.at(-1)!.at - run.readyAt) / 1000 : null,
      deadLetters: metricValue(run.metricsText, 'processor_dead_letters_total'),
      env,
    };
  } finally {
    await processor.kill('SIGTERM');
  }
}

// ------------------------------------------------------------------ main

interface FileSummary {
  partition: number;
  first_offset: number;
  last_offset: number;
  rows: number;
  bytes: number;
}

interface RoundRun {
  run: number;
  variant: string;
  processor: ProcessorRun;
  files: FileSummary[];
  env: Record<string, string>;
  consume?: ConsumeCeiling;
  write?: WriteCeiling;
  ceiling?: number;
  ratio?: number;
}

interface ProcessorResult {
  bench: 'processor';
  at: string;
  node: string;
  rows: number;
  variants: Variant[];
  settings: {
    partitions: number;
    batchMaxRows: number;
    batchMaxBytes: number;
    batchMaxAgeMs: number;
    library: string;
    compression: string;
    partitionsConcurrency: number;
    env: Record<string, string>;
    nodeArgs: string;
    kafkaBrokers: string;
  };
  runs: RoundRun[];
  retries: RoundRetry[];
  input?: Awaited<ReturnType<typeof prefill>>;
  median?: ReturnType<typeof mediansByVariant>;
}

async function parent(): Promise<void> {
  const rows = Number(args.rows);
  const runs = Number(args.runs);
  const config = processorConfigSchema.parse(processorEnv('x', 'x', extraEnv));
  const base = uniqueName('bench-proc');
  const inputTopic = `${base}-orders-cdc`;
  const topicsToDelete = [inputTopic];
  const dirsToDelete: string[] = [];
  const result: ProcessorResult = {
    bench: 'processor',
    at: new Date().toISOString(),
    node: process.version,
    rows,
    variants,
    settings: {
      partitions: Number(args.partitions),
      batchMaxRows: config.PROCESSOR_BATCH_MAX_ROWS,
      batchMaxBytes: config.PROCESSOR_BATCH_MAX_BYTES,
      batchMaxAgeMs: config.PROCESSOR_BATCH_MAX_AGE_MS,
      library: config.PROCESSOR_PARQUET_LIBRARY,
      compression: config.PROCESSOR_PARQUET_COMPRESSION,
      partitionsConcurrency: config.PROCESSOR_PARTITIONS_CONCURRENCY,
      env: extraEnv,
      nodeArgs: args['node-args'],
      kafkaBrokers: infra.kafkaBrokers,
    },
    runs: [],
    retries: [],
  };
  const firstVariant = variants[0]!;
  console.error(`processor bench: ${fmt(rows)} rows, ${runs} round(s), topic ${inputTopic}, load ${load().join(' ')}`);
  // The broker is shared with tests that stop and restart it: start once it answers.
  await waitForServers(kafka);
  try {
    const input = (result.input = await prefill(inputTopic, rows, Number(args.partitions)));
    console.error(`  topic filled: ${input.payloadMiB.toFixed(1)} MiB of envelopes in ${input.seconds.toFixed(1)} s`);
    const runRound = async (r: number, attempt: number) => {
      const tag = `r${r}${attempt > 0 ? `a${attempt}` : ''}`;
      const brokerAtStart = kafkaPid();
      const round: { consume?: ConsumeCeiling; write?: WriteCeiling } = {};
      const ceilingEnv = { ...extraEnv, ...firstVariant.env };
      const doConsume = () => {
        console.error(`round ${r}: ceiling consume (eachBatch, read_committed), load ${load().join(' ')}`);
        const ceilingConfig = processorConfigSchema.parse(processorEnv('x', 'x', ceilingEnv));
        const consume = (round.consume = runCeiling('consume', {
          topic: inputTopic,
          rows,
          partitionsConcurrency: ceilingConfig.PROCESSOR_PARTITIONS_CONCURRENCY,
          prefetchBytes: ceilingConfig.KAFKA_CONSUMER_PREFETCH_BYTES,
          maxMessageBytes: ceilingConfig.KAFKA_MAX_MESSAGE_BYTES,
        }));
        consume.load = load();
        console.error(`  consume: ${fmt(consume.rowsPerSec)} rows/s`);
      };
      if (r % 2 === 1) doConsume();
      const procRuns: RoundRun[] = [];
      for (const variant of variants.map((_, k) => variants[(k + r) % variants.length]!)) {
        const prefix = `${base}-${tag}-${variant.name}`;
        topicsToDelete.push(`${prefix}-files`, `${inputTopic}.dlq`);
        const env = { ...extraEnv, ...variant.env };
        const outputDir = processorEnv(prefix, inputTopic, env).PROCESSOR_OUTPUT_DIR!;
        dirsToDelete.push(outputDir);
        console.error(`round ${r}: processor service${variants.length > 1 ? ` (${variant.name})` : ''}, load ${load().join(' ')}`);
        const processor = await timeProcessor(prefix, inputTopic, rows, env, [args['node-args'], variant.nodeArgs ?? ''].join(' '), `${prefix}-processor`, variant.dist);
        const files = (await announcedFiles(`${prefix}-files`, rows, outputDir)).map(({ partition, first_offset, last_offset, rows: fileRows, bytes }) => ({ partition, first_offset, last_offset, rows: fileRows, bytes }));
        console.error(`  ${fmt(processor.rowsPerSec)} rows/s, ${files.length} files (${JSON.stringify(processor.closeReasons)}), peak RSS ${processor.peakRssMiB} MiB, cpu ${JSON.stringify(processor.cpu)}`);
        procRuns.push({ run: r, variant: variant.name, processor, files, env });
        if (!args.keep) rmSync(outputDir, { recursive: true, force: true });
      }
      if (r % 2 === 0) doConsume();
      console.error(`round ${r}: ceiling write (processor's Parquet writer, same rows and files), load ${load().join(' ')}`);
      const write = (round.write = runCeiling('write', { topic: inputTopic, env: processorEnv('x', inputTopic, ceilingEnv), files: fileRanges(procRuns.find((p) => p.variant === firstVariant.name)!.files) }));
      write.load = load();
      console.error(`  write: ${fmt(write.rowsPerSec)} rows/s (${write.files} files, ${write.compression})`);
      // The broker is shared: a round during which it restarted measured that, not the processor.
      if (kafkaPid() !== brokerAtStart) throw new Error(`the broker restarted during the round (pid ${brokerAtStart} -> ${kafkaPid()})`);
      for (const run of procRuns) {
        Object.assign(run, round);
        run.ceiling = Math.min(round.consume!.rowsPerSec, write.rowsPerSec);
        run.ratio = run.processor.rowsPerSec / run.ceiling;
        result.runs.push(run);
      }
    };
    await runRounds(runs, runRound, {
      kafka,
      retries: result.retries,
      // the input topic (first) serves every round
      topics: args.keep ? null : { list: topicsToDelete, keep: 1 },
    });
  } finally {
    if (!args.keep) {
      await deleteTopics(kafka, topicsToDelete).catch((e: unknown) => console.error(`topic clean-up failed: ${reasonOf(e)}`));
      for (const dir of dirsToDelete) rmSync(dir, { recursive: true, force: true });
    }
  }
  summarize(result);
  const path = saveResult('processor', result);
  console.log(`\nsaved ${path}`);
}

function summarize(result: ProcessorResult): void {
  printRetries(result.retries);
  const s = result.settings;
  console.log(
    `\nProcessor benchmark: ${fmt(result.rows)} rows (${result.input?.payloadMiB.toFixed(0)} MiB of envelopes), ${s.partitions} partitions, ${s.library} ${s.compression}, ` +
      `files at ${fmt(s.batchMaxRows)} rows / ${(s.batchMaxBytes / 2 ** 20).toFixed(0)} MiB / ${s.batchMaxAgeMs} ms, ${s.partitionsConcurrency} partitions at a time, node ${result.node}\n`,
  );
  console.log('| run | variant | processor rows/s | rows per CPU-s | consume rows/s | write rows/s | processor / min(ceilings) | files | last file at s | processor peak RSS MiB | processor cpu | kafka cpu | load 1m |');
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of result.runs) {
    const p = r.processor;
    console.log(
      `| ${r.run} | ${r.variant} | ${fmt(p.rowsPerSec)} | ${fmt(p.rowsPerCpuSecond)} | ${fmt(r.consume?.rowsPerSec)} | ${fmt(r.write?.rowsPerSec)} | ${r.ratio?.toFixed(2)} | ${p.files} | ${p.lastFileAfterSeconds?.toFixed(1)} | ${p.peakRssMiB} | ${p.cpu.processor} | ${p.cpu.kafka} | ${p.load.after[0]} |`,
    );
  }
  result.median = mediansByVariant(result.runs, result.variants, {
    processor: (r) => r.processor.rowsPerSec,
    rowsPerCpuSecond: (r) => r.processor.rowsPerCpuSecond,
    consume: (r) => r.consume?.rowsPerSec,
    write: (r) => r.write?.rowsPerSec,
    ratio: (r) => r.ratio,
    peakRssMiB: (r) => r.processor.peakRssMiB,
  });
  for (const [variant, m] of Object.entries(result.median)) {
    console.log(`| median | ${variant} | ${fmt(m.processor)} | ${fmt(m.rowsPerCpuSecond)} | ${fmt(m.consume)} | ${fmt(m.write)} | ${m.ratio?.toFixed(2)} | | | ${m.peakRssMiB} | | | |`);
  }
  console.log('\nprocessor rows/s: from its consumer group join until every row is in an announced file. cpu = CPU seconds per wall second (1.0 = one core of 2).');
}

await parent();
process.exit(0);
