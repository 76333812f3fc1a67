// CDC throughput benchmark: events/s from the MongoDB change stream to committed Kafka transactions, with the real
// service (`services/cdc/dist/main.js`) started as a process, against two ceilings measured in the same run on the
// same changes:
//   read     the official driver reading the same change stream (fullDocument: updateLookup, as the service does)
//   produce  the Kafka client producing the same records (the exact bytes the CDC wrote: key, value, headers) with an
//            idempotent producer, acks=-1, the CDC's batch sizes, one batch at a time, to a fresh topic
// plus, for diagnosis only, `produce-tx`: the same with one Kafka transaction per batch (what the CDC pays), and two
// bounds derived from the ceilings' CPU per event (each ceiling runs alone; the CDC needs both at once):
//   machine     cores / (CPU per event of read + of produce, client and server processes)
//   one-thread  1 / (the two clients' own CPU per event): both raw clients in one Node thread, as the CDC runs them
//
// Method: the CDC is started once with CDC_SNAPSHOT=never so that it checkpoints "now", stopped (SIGTERM), N changes
// are written while it is down (inserts of realistic orders by insertMany, plus updates and deletes), then it is
// started again and timed from "change stream opened" until cdc_events_published_total reaches N. Further runs
// reuse the same backlog with a fresh topic and a checkpoint topic seeded at the same start time. Each ceiling runs
// in a fresh child process. CPU use of the service, the broker and the database is sampled from /proc.
//
//   npx tsc -b && node bench/dist/cdc.js [--events 200000] [--runs 3] [--partitions 6] [--env CDC_BATCH_MAX_EVENTS=5000,...]
//   node bench/dist/cdc.js --backlog 1000000      one run, RSS sampled every second (min/median/max), no ceilings
//   node bench/dist/cdc.js --cpu-prof             also write V8 CPU profiles of the service, one per thread (.run/bench-logs/profiles/<run>/)
//   node bench/dist/cdc.js --node-args '--max-semi-space-size=32'   node flags for the service
//   node bench/dist/cdc.js --variants '[{"name":"a"},{"name":"b","env":{"CDC_BATCH_MAX_EVENTS":"5000"},"nodeArgs":"--max-semi-space-size=32"}]'
//                                             compare CDC settings on the same backlog (each round runs every variant);
//                                             "dist": "<dir>" runs another build (e.g. a copy of services/cdc/dist under .run/)
//
// MONGO_URI / KAFKA_BROKERS select the servers (default: the local infrastructure). Results: bench/results/cdc-*.json.
// Mind the MongoDB stand-in: it keeps its whole oplog in memory (about 7 KB of heap per change of these orders), so
// every run grows the shared server for good. Big backlogs belong on a private stand-in (port and run dir of its own):
//   CDC_RUN_DIR=<dir> MONGO_PORT=27219 MONGO_JAVA_OPTS=-Xmx4g MONGO_OPLOG_MAX_ENTRIES=400000 scripts/infra/mongo.sh up
//   MONGO_URI='mongodb://127.0.0.1:27219/?replicaSet=rs0' node bench/dist/cdc.js
// (--backlog 1000000 needs about 8 GB of heap there, and an oplog cap above the backlog).
import { mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as mongodb from 'mongodb';
import { encodeCheckpoint } from '@cdc/cdc/dist/checkpoint/checkpoint.js';
import { cdcConfigSchema } from '@cdc/cdc/dist/config.js';
import { infra, uniqueName } from '@cdc/tests/dist/support/infra.js';
import { testKafka } from '@cdc/tests/dist/support/kafka.js';
import { cdcStreamEnv } from '@cdc/tests/dist/support/mongo.js';
import { metricValue } from '@cdc/tests/dist/support/service-process.js';
import { createTopics, deleteTopics, fmt, load, logDir, reasonOf, saveResult, waitForServers } from './lib/common.js';
import { writeBacklog, type BacklogWritten } from './lib/backlog.js';
import { runCeiling, serverPids, type EventsCeiling, type ProduceCeiling } from './lib/ceilings.js';
import { mediansByVariant, nodeArgsOf, printRetries, runRounds, serviceBenchOptions, serviceBenchSettings, serviceRunFigures, startBenchService, timeService, type RoundRetry, type ServiceRunFigures, type Variant } from './lib/service-bench.js';

const { values: args } = parseArgs({
  options: {
    ...serviceBenchOptions,
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '200000' },
    backlog: { type: 'string' },
    runs: { type: 'string' },
    'insert-batch': { type: 'string', default: '1000' },
    ceilings: { type: 'boolean' },
  },
});
const { extraEnv, variants } = serviceBenchSettings(args);

const kafka = testKafka({ clientId: 'bench-cdc' });
const cdcEnv = (prefix: string, db: string, extra: Record<string, string>) => cdcStreamEnv(prefix, db, { KAFKA_TOPIC_PARTITIONS: args.partitions, ...extra });

// ------------------------------------------------------------------ the CDC itself

/** A stream checkpoint at `startAt`, as if the CDC had been stopped then (seeds runs after the first). */
async function seedCheckpoint(topic: string, streamId: string, startAt: { t: number; i: number }): Promise<void> {
  await createTopics(kafka, [topic], 1, [
    { name: 'cleanup.policy', value: 'compact' },
    { name: 'min.compaction.lag.ms', value: '60000' },
  ]);
  const producer = kafka.producer({ kafkaJS: { idempotent: true, acks: -1, allowAutoTopicCreation: false } });
  await producer.connect();
  await producer.send({
    topic,
    messages: [{ key: streamId, partition: 0, value: encodeCheckpoint({ version: 1, phase: 'stream', resume_token: null, start_at: startAt, updated_at: new Date().toISOString() }) }],
  });
  await producer.disconnect();
}

interface CdcRun extends ServiceRunFigures {
  events: number;
  eventsPerSec: number;
  firstCommitAfterOpenSeconds: number | null;
  transactions: number;
  deadLetters: number;
  readSeconds: number;
  commitWaitSeconds: number;
}

async function timeCdc(prefix: string, db: string, events: number, env: Record<string, string>, nodeArgText: string, label: string, distDir?: string): Promise<CdcRun> {
  // one directory per run: node writes one profile per thread
  const nodeArgs = nodeArgsOf(nodeArgText, args['cpu-prof'] ? { dir: join(logDir, 'profiles', label) } : null);
  if (nodeArgs.length) mkdirSync(join(logDir, 'profiles'), { recursive: true });
  const cdc = await startBenchService('cdc', cdcEnv(prefix, db, env), label, nodeArgs, distDir);
  try {
    const run = await timeService(cdc, {
      name: 'cdc',
      ready: /change stream opened/,
      metric: 'cdc_events_published_total',
      target: events,
      unit: 'events',
      pids: serverPids,
      sample: (text, published) => ({ published, read: metricValue(text, 'cdc_events_read_total') }),
    });
    const figures = serviceRunFigures(cdc, run);
    return {
      ...figures,
      events: run.count,
      eventsPerSec: run.count / figures.seconds,
      firstCommitAfterOpenSeconds: run.firstAt === null ? null : (run.firstAt - run.readyAt) / 1000,
      transactions: metricValue(run.metricsText, 'cdc_transactions_total'),
      deadLetters: metricValue(run.metricsText, 'cdc_dead_letters_total'),
      // the streaming loop's time: reading+encoding batches vs waiting for the transaction in flight
      readSeconds: metricValue(run.metricsText, 'cdc_streaming_seconds_total', { step: 'read' }),
      commitWaitSeconds: metricValue(run.metricsText, 'cdc_streaming_seconds_total', { step: 'commit_wait' }),
    };
  } finally {
    await cdc.kill('SIGTERM');
  }
}

// ------------------------------------------------------------------ main

interface Bounds {
  machine: number;
  thread: number;
}

interface RoundRun {
  run: number;
  variant: string;
  topic: string;
  cdc: CdcRun;
  read?: EventsCeiling | null;
  produce?: ProduceCeiling | null;
  produceTx?: ProduceCeiling | null;
  ceiling?: number;
  ratio?: number;
  bounds?: Bounds;
}

interface CdcResult {
  bench: 'cdc';
  at: string;
  node: string;
  mode: 'backlog' | 'throughput';
  events: number;
  runs: RoundRun[];
  retries: RoundRetry[];
  variants: Variant[];
  settings: { partitions: number; batchMaxEvents: number; batchMaxBytes: number; batchMaxWaitMs: number; env: Record<string, string>; nodeArgs: string; mongoUri: string; kafkaBrokers: string };
  servers: { mongo: number | null; kafka: number | null };
  write?: BacklogWritten;
  median?: ReturnType<typeof mediansByVariant>;
}

async function parent(): Promise<void> {
  const backlogMode = args.backlog !== undefined;
  const events = Number(backlogMode ? args.backlog : args.events);
  const runs = Number(args.runs ?? (backlogMode ? 1 : 3));
  const withCeilings = args.ceilings ?? !backlogMode;
  const config = cdcConfigSchema.parse(cdcEnv('x', 'x', extraEnv));
  const batchMaxEvents = config.CDC_BATCH_MAX_EVENTS;
  const batchMaxBytes = config.CDC_BATCH_MAX_BYTES;

  const base = uniqueName('bench-cdc');
  const db = base.replaceAll('-', '_');
  const streamId = `${db}.orders`;
  const mongo = new mongodb.MongoClient(infra.mongoUri, { serverSelectionTimeoutMS: 10000 });
  await mongo.connect();
  const collection = mongo.db(db).collection('orders');
  const topicsToDelete: string[] = [];
  const result: CdcResult = {
    bench: 'cdc',
    at: new Date().toISOString(),
    node: process.version,
    mode: backlogMode ? 'backlog' : 'throughput',
    events,
    runs: [],
    retries: [],
    variants,
    settings: {
      partitions: Number(args.partitions),
      batchMaxEvents,
      batchMaxBytes,
      batchMaxWaitMs: config.CDC_BATCH_MAX_WAIT_MS,
      env: extraEnv,
      nodeArgs: args['node-args'],
      mongoUri: infra.mongoUri,
      kafkaBrokers: infra.kafkaBrokers,
    },
    servers: { mongo: serverPids.mongo(), kafka: serverPids.kafka() },
  };
  const firstVariant = variants[0]!;
  console.error(`cdc bench: ${fmt(events)} changes, ${runs} run(s), db ${db}, load ${load().join(' ')}`);
  // The broker and MongoDB are shared with tests that stop and restart them: start once they answer.
  await waitForServers(kafka, mongo);
  try {
    // 1. The CDC checkpoints "now", then stops.
    const first = `${base}-r0-${firstVariant.name}`;
    topicsToDelete.push(`${first}-orders-cdc`, `${first}-orders-cdc.dlq`, `${first}-checkpoints`);
    for (let attempt = 1; ; attempt++) {
      const initial = await startBenchService('cdc', cdcEnv(first, db, { ...extraEnv, ...firstVariant.env }), `${first}-checkpoint-${attempt}`);
      try {
        await initial.waitForLine(/change stream opened/, 120000);
        break;
      } catch (error) {
        if (attempt >= 3) throw error;
        console.error(`the first CDC start failed (${reasonOf(error)}): waiting for the servers`);
        await waitForServers(kafka, mongo);
      } finally {
        await initial.kill('SIGTERM');
      }
    }
    const ping = await mongo.db('admin').command({ ping: 1 });
    const startAt = { t: ping.operationTime.high >>> 0, i: ping.operationTime.low >>> 0 };

    // 2. The backlog, written while it is down.
    console.error(`writing the backlog (load ${load().join(' ')})`);
    const write = (result.write = await writeBacklog(collection, events, Number(args['insert-batch'])));
    write.load = load();
    console.error(`  ${fmt(write.events)} changes in ${write.seconds.toFixed(1)} s (${fmt(write.changesPerSec)}/s): ${JSON.stringify(write.ops)}`);

    // 3. Rounds: each variant of the CDC, then the ceilings, one after the other on the same backlog.
    const runRound = async (r: number, attempt: number) => {
      const tag = `r${r}${attempt > 0 ? `a${attempt}` : ''}`;
      const serversAtStart = JSON.stringify({ mongo: serverPids.mongo(), kafka: serverPids.kafka() });
      const round: { read: EventsCeiling | null; produce: ProduceCeiling | null; produceTx: ProduceCeiling | null } = { read: null, produce: null, produceTx: null };
      const readSpec = { db, startAt, events, batchSize: Math.min(batchMaxEvents, 1000), maxAwaitMs: Math.min(config.CDC_BATCH_MAX_WAIT_MS, 1000) };
      const doRead = () => {
        console.error(`round ${r}: ceiling read (driver change stream), load ${load().join(' ')}`);
        round.read = runCeiling('read', readSpec);
        round.read.load = load();
        console.error(`  read: ${fmt(round.read.eventsPerSec)} events/s`);
      };
      if (withCeilings && r % 2 === 1) doRead();
      const order = variants.map((_, k) => variants[(k + r) % variants.length]!);
      const cdcRuns: RoundRun[] = [];
      for (const variant of order) {
        const prefix = r === 0 && attempt === 0 && variant === firstVariant ? first : `${base}-${tag}-${variant.name}`;
        if (prefix !== first) {
          topicsToDelete.push(`${prefix}-orders-cdc`, `${prefix}-orders-cdc.dlq`, `${prefix}-checkpoints`);
          await seedCheckpoint(`${prefix}-checkpoints`, streamId, startAt);
        }
        console.error(`round ${r}: CDC service${variants.length > 1 ? ` (${variant.name})` : ''}, load ${load().join(' ')}`);
        const cdc = await timeCdc(prefix, db, events, { ...extraEnv, ...variant.env }, [args['node-args'], variant.nodeArgs ?? ''].join(' '), `${prefix}-cdc`, variant.dist);
        console.error(`  ${fmt(cdc.eventsPerSec)} events/s, peak RSS ${cdc.peakRssMiB} MiB, cpu ${JSON.stringify(cdc.cpu)}`);
        cdcRuns.push({ run: r, variant: variant.name, topic: `${prefix}-orders-cdc`, cdc });
      }
      if (withCeilings) {
        if (r % 2 === 0) doRead();
        for (const transactional of [false, true]) {
          const toTopic = `${base}-${tag}-ceiling${transactional ? '-tx' : ''}`;
          topicsToDelete.push(toTopic, ...(transactional ? [`${toTopic}-checkpoints`] : []));
          console.error(`round ${r}: ceiling produce${transactional ? ' (transactional, diagnostic)' : ''}, load ${load().join(' ')}`);
          const produced = runCeiling('produce', { fromTopic: cdcRuns[0]!.topic, toTopic, partitions: Number(args.partitions), batchMaxEvents, batchMaxBytes, transactional });
          produced.load = load();
          if (produced.events !== events || produced.uniqueEventIds !== events) {
            throw new Error(`the CDC topic holds ${produced.events} records with ${produced.uniqueEventIds} distinct event ids; expected ${events}`);
          }
          round[transactional ? 'produceTx' : 'produce'] = produced;
          console.error(`  produce${transactional ? '-tx' : ''}: ${fmt(produced.eventsPerSec)} events/s`);
        }
      }
      // The broker and the database are shared: a round during which one of them restarted measured that, not us.
      const serversAtEnd = JSON.stringify({ mongo: serverPids.mongo(), kafka: serverPids.kafka() });
      if (serversAtEnd !== serversAtStart) throw new Error(`a server restarted during the round (${serversAtStart} -> ${serversAtEnd})`);
      for (const run of cdcRuns) {
        Object.assign(run, round);
        if (round.read && round.produce) {
          run.ceiling = Math.min(round.read.eventsPerSec, round.produce.eventsPerSec);
          run.ratio = run.cdc.eventsPerSec / run.ceiling;
          run.bounds = bounds(round.read, round.produce);
        }
        result.runs.push(run);
      }
    };
    await runRounds(runs, runRound, {
      kafka,
      mongo,
      retries: result.retries,
      topics: args.keep ? null : { list: topicsToDelete, keep: 0 },
    });
  } finally {
    if (!args.keep) {
      await deleteTopics(kafka, topicsToDelete).catch((e: unknown) => console.error(`topic clean-up failed: ${reasonOf(e)}`));
      await mongo
        .db(db)
        .dropDatabase()
        .catch(() => undefined);
    }
    await mongo.close();
  }
  summarize(result);
  const path = saveResult(backlogMode ? 'cdc-backlog' : 'cdc', result);
  console.log(`\nsaved ${path}`);
}

/**
 * What the two raw clients could do together, from the CPU each ceiling used per event. Each ceiling runs alone; the
 * CDC needs both at once: `machine` = this machine's cores / (CPU per event of read + of produce, client and server
 * processes); `thread` = 1 / (the clients' own CPU per event, read + produce): one Node thread running both.
 */
function bounds(read: EventsCeiling, produce: EventsCeiling): Bounds {
  const perEvent = (ceiling: EventsCeiling, shares: string[]) => shares.reduce((sum, name) => sum + (ceiling.cpu[name] ?? 0), 0) / ceiling.eventsPerSec;
  return {
    machine: availableParallelism() / (perEvent(read, Object.keys(read.cpu)) + perEvent(produce, Object.keys(produce.cpu))),
    thread: 1 / (perEvent(read, ['self']) + perEvent(produce, ['self'])),
  };
}

function summarize(result: CdcResult): void {
  printRetries(result.retries);
  const { runs } = result;
  const write = result.write!;
  console.log(
    `\nCDC benchmark: ${fmt(result.events)} changes (${JSON.stringify(write.ops)}), ${result.settings.partitions} partitions, batch ${result.settings.batchMaxEvents} events / ${(result.settings.batchMaxBytes / 2 ** 20).toFixed(0)} MiB, node ${result.node}`,
  );
  console.log(`backlog written at ${fmt(write.changesPerSec)} changes/s (load ${write.load?.join(' ')})\n`);
  const ratio = (x: number | null | undefined) => (x ? x.toFixed(2) : '-');
  console.log(
    '| run | variant | CDC events/s | read events/s | produce events/s | produce-tx events/s | machine bound events/s | one-thread bound events/s | CDC / min(read, produce) | CDC / one-thread bound | CDC events per CPU-second | CDC peak RSS MiB | CDC cpu | mongo cpu | kafka cpu | load 1m |',
  );
  console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of runs) {
    console.log(
      `| ${r.run} | ${r.variant} | ${fmt(r.cdc.eventsPerSec)} | ${fmt(r.read?.eventsPerSec)} | ${fmt(r.produce?.eventsPerSec)} | ${fmt(r.produceTx?.eventsPerSec)} | ${fmt(r.bounds?.machine)} | ${fmt(r.bounds?.thread)} | ${ratio(r.ratio)} | ${ratio(r.bounds && r.cdc.eventsPerSec / r.bounds.thread)} | ${fmt(r.cdc.eventsPerSec / (r.cdc.cpu.cdc ?? NaN))} | ${r.cdc.peakRssMiB} | ${r.cdc.cpu.cdc} | ${r.cdc.cpu.mongo} | ${r.cdc.cpu.kafka} | ${r.cdc.load.after[0]} |`,
    );
  }
  result.median = mediansByVariant(runs, result.variants, {
    cdc: (r) => r.cdc.eventsPerSec,
    read: (r) => r.read?.eventsPerSec,
    produce: (r) => r.produce?.eventsPerSec,
    produceTx: (r) => r.produceTx?.eventsPerSec,
    machineBound: (r) => r.bounds?.machine,
    threadBound: (r) => r.bounds?.thread,
    ratio: (r) => r.ratio,
    threadBoundRatio: (r) => r.bounds && r.cdc.eventsPerSec / r.bounds.thread,
    peakRssMiB: (r) => r.cdc.peakRssMiB,
  });
  for (const [variant, m] of Object.entries(result.median)) {
    console.log(
      `| median | ${variant} | ${fmt(m.cdc)} | ${fmt(m.read)} | ${fmt(m.produce)} | ${fmt(m.produceTx)} | ${fmt(m.machineBound)} | ${fmt(m.threadBound)} | ${ratio(m.ratio)} | ${ratio(m.threadBoundRatio)} | | ${m.peakRssMiB} | | | | |`,
    );
  }
  if (result.mode === 'backlog') {
    const r = runs[0]!.cdc;
    console.log(
      `\nCDC RSS over the ${r.seconds.toFixed(0)} s run (${r.rss.samples} samples, 1/s): min ${r.rss.minMiB} MiB, median ${r.rss.medianMiB} MiB, max ${r.rss.maxMiB} MiB, peak (VmHWM) ${r.rss.peakMiB} MiB; median of the first quarter ${r.rss.firstQuarterMedianMiB} MiB, of the last quarter ${r.rss.lastQuarterMedianMiB} MiB`,
    );
  }
  console.log(
    `\ncpu = CPU seconds per wall second while streaming (1.0 = one core of ${availableParallelism()}). Ceilings run alone, each in a fresh process. ` +
      'Bounds: what the raw clients could do together, from the CPU per event each ceiling used (machine: all its processes on these cores; one-thread: the two clients in one Node thread, as the CDC runs them).',
  );
}

await parent();
process.exit(0);
