// End-to-end benchmark: MongoDB -> cdc -> Kafka -> processor -> Parquet -> loader -> Cloud Storage + BigQuery, the three
// real services (`services/*/dist/main.js`) started as processes with names unique to the run, while N realistic
// changes (insertMany of orders, plus updates and deletes) are written to MongoDB at full speed (live), or after N
// changes were written with the three stopped (--backlog: the cdc checkpointed and the groups joined first; the three
// then start at once and drain it, timed from their start).
//
// Measured, in one run:
//   - per-stage progress every second from each service's /metrics (cdc_events_published_total,
//     processor_rows_written_total, loader_rows_loaded_total) and the benchmark's own write count; each stage's
//     throughput = N / (time from its first progress until it reached N), and its best 5-second rate;
//   - peak RSS per service (VmHWM) and RSS over time; CPU per second of wall time of every process involved; RSS of
//     the services and the servers (broker, MongoDB, BigQuery and Cloud Storage emulators) per minute, printed as each
//     minute ends, and its flatness: the last full minute's highest RSS over minute 2's (minute 1 is the warm-up);
//   - live: latency from the MongoDB write (a row's cluster_time, 1 s resolution) to a durable, announced Parquet file
//     (the processor's "file committed" log line of the file) and to visible in BigQuery (the loader's "file loaded"
//     log line: its group's load job, insert and current-state MERGE done). Per row: the rows of a file are taken as spread evenly
//     over the file's [min_cluster_time, max_cluster_time + 1 s); per file: from max_cluster_time (the newest row);
//   - the loader's groups and load jobs, and the load jobs per day the run's rate implies beside the shipped budget;
//   - the ceilings of bench/lib/ceilings.ts on the same data, each alone in a fresh process after the pipeline
//     finished: change-stream read and Kafka produce (CDC), Kafka consume and Parquet write (processor).
//
//   npx tsc -b && node bench/dist/e2e.js [--events 200000] [--partitions 6] [--batch-max-age-ms 2000] [--group-window-ms 1000] [--no-ceilings] [--keep]
//     [--staging load-job|storage-write] [--shipped-grouping] [--backlog [--hold-downstream]]
// --hold-downstream: only the processor and the loader stop for the backlog; the cdc publishes it as it is written, and
// the drain starts once it did. The MongoDB stand-in keeps its oplog in memory (about 7 KB of heap a change): a
// backlog the cdc reads at once must fit there, one published live needs only a capped oplog (MONGO_OPLOG_MAX_ENTRIES).
// --staging: the loader's LOADER_STAGING; --shipped-grouping: the loader's shipped window and load-job budget (as in
// production: load jobs paced at 1,000 a day) instead of the emulator's 1 s unpaced groups (--group-window-ms ignored).
// The run prints and records the configuration it measured and its goals: visible in BigQuery p99 <= 10 s (live, for
// storage-write under the shipped grouping: load jobs are paced by their budget, tens of seconds by design), the
// loader's throughput at least the processor's, and with --backlog each service's RSS flat (ratio <= 1.2).
//
// MONGO_URI, KAFKA_BROKERS, GCS_ENDPOINT, BIGQUERY_ENDPOINT, BIGQUERY_PROJECT select the servers (default: the local
// infrastructure). Results: bench/results/e2e-<timestamp>.json and .svg (throughput over time per stage).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as mongodb from 'mongodb';
import { createGcpClients } from '@cdc/core/gcp';
import { cdcConfigSchema } from '@cdc/cdc/dist/config.js';
import { loaderConfigSchema } from '@cdc/loader/dist/config.js';
import { processorConfigSchema } from '@cdc/processor/dist/config.js';
import { infra, uniqueName } from '@cdc/tests/dist/support/infra.js';
import { testKafka } from '@cdc/tests/dist/support/kafka.js';
import { cdcStreamEnv } from '@cdc/tests/dist/support/mongo.js';
import { metricValue, repoRoot, type ServiceProcess } from '@cdc/tests/dist/support/service-process.js';
import { sleep } from '@cdc/tests/dist/support/wait.js';
import { writeBacklog, type BacklogWritten } from './lib/backlog.js';
import { announcedFiles, fileRanges, runCeiling, serverPids, type AnnouncedFile, type ConsumeCeiling, type EventsCeiling, type ProduceCeiling, type WriteCeiling } from './lib/ceilings.js';
import { cpuMeter, deleteTopics, fmt, load, memoryOf, now, pidListeningOn, reasonOf, rssSampler, saveResult, withAdmin, type CpuShares, type RssSummary } from './lib/common.js';
import { startBenchService } from './lib/service-bench.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: process.env.BENCH_EVENTS ?? '200000' },
    partitions: { type: 'string', default: '6' },
    'insert-batch': { type: 'string', default: '1000' },
    'batch-max-age-ms': { type: 'string', default: '2000' },
    // the emulator has no load-job quota: groups every second, unpaced (as the local stack)
    'group-window-ms': { type: 'string', default: '1000' },
    staging: { type: 'string', default: 'load-job' },
    'shipped-grouping': { type: 'boolean', default: false },
    backlog: { type: 'boolean', default: false },
    'hold-downstream': { type: 'boolean', default: false },
    'no-ceilings': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});

const gcp = {
  GCP_PROJECT: infra.bigqueryProject,
  GCS_ENDPOINT: infra.gcsEndpoint,
  BIGQUERY_ENDPOINT: infra.bigqueryEndpoint,
};
const kafka = testKafka({ clientId: 'bench-e2e' });
type StageKey = 'written' | 'cdc' | 'processor' | 'loader';
type ServiceName = Exclude<StageKey, 'written'>;
const STAGES: { key: StageKey; label: string; color: string; metric?: string }[] = [
  { key: 'written', label: 'MongoDB writes', color: '#888888' },
  { key: 'cdc', label: 'cdc published', color: '#1f77b4', metric: 'cdc_events_published_total' },
  { key: 'processor', label: 'processor rows in Parquet', color: '#ff7f0e', metric: 'processor_rows_written_total' },
  { key: 'loader', label: 'loader rows in BigQuery', color: '#2ca02c', metric: 'loader_rows_loaded_total' },
];
const SERVICE_STAGES = STAGES.slice(1) as { key: ServiceName; label: string; color: string; metric: string }[];

/** The processes whose RSS is sampled every second and reported per minute: the services, then the servers. */
const RSS_PROCESSES = ['cdc', 'processor', 'loader', 'kafka', 'mongo', 'bigquery', 'gcs'] as const;
type RssProcess = (typeof RSS_PROCESSES)[number];
/** A service's RSS in its last full minute against its first full minute after the first (warm-up): at most this is flat. */
const RSS_FLAT_GOAL = 1.2;

/**
 * One sample a second: seconds since the first write (live) or since the services started on the backlog, each
 * stage's count, the servers' pids and the RSS of each process in RSS_PROCESSES (`<name>RssMiB`).
 */
type Sample = { s: number; kafkaPid: number | null; mongoPid: number | null } & Record<StageKey, number> & Record<string, number | null>;

// ------------------------------------------------------------------ statistics

/** Weighted percentile of [value, weight] pairs. */
function percentile(pairs: [number, number][], p: number): number | null {
  const sorted = pairs.filter(([v]) => Number.isFinite(v)).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, w]) => sum + w, 0);
  let seen = 0;
  for (const [v, w] of sorted) {
    seen += w;
    if (seen >= p * total) return v;
  }
  return sorted.at(-1)?.[0] ?? null;
}

const latencySummary = (pairs: [number, number][]) => ({
  p50Ms: percentile(pairs, 0.5),
  p99Ms: percentile(pairs, 0.99),
  maxMs: percentile(pairs, 1),
});
type LatencySummary = ReturnType<typeof latencySummary>;

/** Latencies of each file's rows to `doneAtMs` (epoch ms by file path): per row (spread evenly) and per file (newest row). */
function latencies(files: AnnouncedFile[], doneAtMs: Map<string, number>) {
  const perRow: [number, number][] = [];
  const perFile: [number, number][] = [];
  for (const f of files) {
    const done = doneAtMs.get(f.path);
    if (done === undefined) continue;
    const min = Date.parse(f.min_cluster_time);
    const max = Date.parse(f.max_cluster_time) + 1000; // cluster_time has 1 s resolution
    const points = Math.min(f.rows, 200);
    for (let k = 0; k < points; k++) perRow.push([done - (min + ((k + 0.5) / points) * (max - min)), f.rows / points]);
    perFile.push([done - max + 500, f.rows]);
  }
  return { perRow: latencySummary(perRow), perFileNewestRow: latencySummary(perFile), files: perFile.length };
}

interface StageThroughput {
  events: number;
  complete: boolean;
  startS?: number;
  doneS?: number;
  seconds?: number;
  perSec?: number;
  best5sPerSec?: number;
}

/** Throughput of one stage from the samples: N over its active span, and the best rate over 5 s. */
function stageThroughput(samples: Sample[], key: StageKey, events: number): StageThroughput {
  const first = samples.find((s) => s[key] > 0);
  const last = samples.find((s) => s[key] >= events);
  if (!first || !last) return { events: samples.at(-1)?.[key] ?? 0, complete: false };
  // the stage started somewhere between the sample before `first` and `first`: take the sample before
  const before = samples[Math.max(0, samples.indexOf(first) - 1)]!;
  const seconds = last.s - before.s;
  let best = 0;
  for (let i = 0, j = 0; i < samples.length; i++) {
    while (samples[i]!.s - samples[j]!.s > 5) j++;
    const [a, b] = [samples[j]!, samples[i]!];
    if (b.s - a.s >= 4.5) best = Math.max(best, (b[key] - a[key]) / (b.s - a.s));
  }
  return { events, complete: true, startS: before.s, doneS: last.s, seconds, perSec: events / seconds, best5sPerSec: best };
}

// ------------------------------------------------------------------ memory per minute

/** One minute of the run: the stages' counts at its end and each process's highest RSS within it (MiB). */
interface MinuteRow {
  minute: number;
  s: number;
  counts: Record<ServiceName, number>;
  rssMiB: Record<RssProcess, number | null>;
}

function minuteRows(samples: Sample[]): MinuteRow[] {
  const byMinute = new Map<number, Sample[]>();
  for (const x of samples) byMinute.set(Math.floor(x.s / 60), [...(byMinute.get(Math.floor(x.s / 60)) ?? []), x]);
  return [...byMinute].map(([m, list]) => {
    const last = list.at(-1)!;
    const highest = (name: RssProcess) => {
      const values = list.map((x) => x[`${name}RssMiB`]).filter((v): v is number => typeof v === 'number');
      return values.length ? Number(Math.max(...values).toFixed(1)) : null;
    };
    return {
      minute: m + 1,
      s: last.s,
      counts: { cdc: last.cdc, processor: last.processor, loader: last.loader },
      rssMiB: Object.fromEntries(RSS_PROCESSES.map((name) => [name, highest(name)])) as Record<RssProcess, number | null>,
    };
  });
}

const minuteLine = (row: MinuteRow) =>
  `  minute ${row.minute} (${row.s.toFixed(0)} s): cdc ${fmt(row.counts.cdc)}, processor ${fmt(row.counts.processor)}, loader ${fmt(row.counts.loader)}; RSS MiB ${RSS_PROCESSES.map((name) => `${name} ${fmt(row.rssMiB[name])}`).join(', ')}`;

/**
 * Flatness of each process's RSS: its highest RSS in the last full minute over that in minute 2 (minute 1 is the
 * warm-up: heaps, buffers and caches fill). Null when the run had fewer than three full minutes.
 */
function rssFlatness(rows: MinuteRow[], lastS: number) {
  const complete = rows.filter((row) => row.minute * 60 <= lastS + 1.5);
  const afterWarmUp = complete[1];
  const last = complete.at(-1);
  return Object.fromEntries(
    RSS_PROCESSES.map((name) => {
      const first = afterWarmUp?.rssMiB[name] ?? null;
      const end = complete.length >= 3 ? (last?.rssMiB[name] ?? null) : null;
      return [name, { minute2MiB: first, lastMinuteMiB: end, lastMinute: last?.minute ?? null, ratio: first && end ? Number((end / first).toFixed(3)) : null }];
    }),
  ) as Record<RssProcess, { minute2MiB: number | null; lastMinuteMiB: number | null; lastMinute: number | null; ratio: number | null }>;
}

// ------------------------------------------------------------------ chart

function svgChart(samples: Sample[], title: string, xLabel: string): string {
  const W = 960;
  const H = 300;
  const pad = { l: 70, r: 20, t: 30, b: 40 };
  const rates = STAGES.map((st) => samples.slice(1).map((s, i) => ({ s: s.s, v: (s[st.key] - samples[i]![st.key]) / Math.max(0.001, s.s - samples[i]!.s) })));
  const maxS = Math.max(1, samples.at(-1)?.s ?? 1);
  const panel = (y0: number, series: { s: number; v: number }[][], maxV: number, yLabel: string) => {
    const x = (s: number) => pad.l + (s / maxS) * (W - pad.l - pad.r);
    const y = (v: number) => y0 + pad.t + (1 - v / maxV) * (H - pad.t - pad.b);
    const parts = [];
    for (let k = 0; k <= 4; k++) {
      const v = (maxV * k) / 4;
      parts.push(`<line x1="${pad.l}" x2="${W - pad.r}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`);
      parts.push(`<text x="${pad.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${fmt(v)}</text>`);
    }
    const step = Math.max(1, Math.ceil(maxS / 10 / 5) * 5);
    for (let s = 0; s <= maxS; s += step) parts.push(`<text x="${x(s).toFixed(1)}" y="${y0 + H - pad.b + 16}" text-anchor="middle">${s}</text>`);
    parts.push(`<text x="${pad.l}" y="${y0 + pad.t - 10}">${yLabel}</text>`);
    parts.push(`<text x="${W - pad.r}" y="${y0 + H - 6}" text-anchor="end">${xLabel}</text>`);
    series.forEach((points, k) => {
      const d = points.map((p) => `${x(p.s).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
      parts.push(`<polyline fill="none" stroke="${STAGES[k]!.color}" stroke-width="1.5" points="${d}"/>`);
    });
    return parts.join('\n');
  };
  const maxRate = Math.max(1, ...rates.flat().map((p) => p.v));
  const cumulative = STAGES.map((st) => samples.map((s) => ({ s: s.s, v: s[st.key] })));
  const maxCount = Math.max(1, ...cumulative.flat().map((p) => p.v));
  const legend = STAGES.map(
    (st, k) => `<rect x="${pad.l + k * 220}" y="${2 * H + 8}" width="14" height="4" fill="${st.color}"/><text x="${pad.l + k * 220 + 20}" y="${2 * H + 14}">${st.label}</text>`,
  ).join('\n');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${2 * H + 30}" font-family="sans-serif" font-size="11">
<rect width="100%" height="100%" fill="white"/>
<text x="${W / 2}" y="14" text-anchor="middle" font-size="13">${title}</text>
${panel(0, rates, maxRate, 'events per second (1 s samples)')}
${panel(H, cumulative, maxCount, 'events done (cumulative)')}
${legend}
</svg>
`;
}

// ------------------------------------------------------------------ main

/** What a run measured: the loader's staging method and grouping, the mode, and which goal applies to it. */
interface Configuration {
  mode: 'live' | 'backlog';
  staging: string;
  grouping: 'shipped' | 'emulator';
  /** the one-line name printed and recorded with the figures */
  label: string;
}

/**
 * The goals of a run: visible in BigQuery p99 <= 10 s holds for storage-write under the shipped grouping, live (a load
 * job is paced by the budget of 1,000 a day: tens of seconds by design, see "Choosing the staging method"); the
 * loader keeps up with the processor in every live run; in a backlog run each service's RSS stays flat.
 */
interface Goals {
  visibleP99Ms?: { goal: number; measured: number | null; appliesToThisConfiguration: boolean; met: boolean };
  loaderOverProcessor?: { goal: number; measured: number | null; met: boolean };
  rssFlat?: Record<string, { goal: number; measured: number | null; met: boolean | null }>;
}

interface E2eResult {
  bench: 'e2e';
  at: string;
  node: string;
  events: number;
  configuration: Configuration;
  goals?: Goals;
  names: Record<string, string>;
  settings: {
    partitions: number;
    insertBatch: number;
    cdc: { batchMaxEvents: number; batchMaxBytes: number; batchMaxWaitMs: number };
    processor: { batchMaxRows: number; batchMaxBytes: number; batchMaxAgeMs: number; library: string; compression: string; partitionsConcurrency: number };
    envs: Record<ServiceName, Record<string, string>>;
  };
  load: { atStart: number[]; afterPipeline?: number[]; atEnd?: number[] };
  startupSeconds?: number;
  /** backlog: from starting the three services on the backlog until each was ready (the drain is timed from then) */
  drainStartupSeconds?: number;
  write?: BacklogWritten;
  cpu?: CpuShares;
  rss?: Partial<Record<ServiceName, RssSummary>>;
  peakRssMiB?: Partial<Record<ServiceName, number | null>>;
  samples?: Sample[];
  rssPerMinute?: MinuteRow[];
  rssFlatness?: ReturnType<typeof rssFlatness>;
  serverRestarts?: { server: string; atS: number; from: number | null; to: number | null }[];
  pipelineSeconds?: number;
  throughput?: Record<StageKey, StageThroughput> & { endToEnd: { events: number; seconds: number; perSec: number } };
  processorFiles?: number;
  loadJobs?: {
    jobs: number;
    groups: number;
    meanGroupFiles: number | null;
    perDayAtThisRate: number | null;
    shippedBudget: number;
    atShippedBudget: { windowS: number; groupFiles: number | null; perDay: number };
    /** storage-write: bytes appended through the Storage Write API (BigQuery data-size rules) */
    appendedBytes: number;
  };
  filesCheck?: string;
  files?: { announcedRows: number; count: number; committedLogged: number; loadedLogged: number; meanRows: number };
  latency?: { toParquet: ReturnType<typeof latencies>; toBigQuery: ReturnType<typeof latencies> };
  bigQueryRows?: number | string;
  ceilings?: { read?: EventsCeiling; produce?: ProduceCeiling; consume?: ConsumeCeiling; write?: WriteCeiling };
  ratios?: {
    cdc: { perSec: number; ceiling: number; ratio: number; writesPerSec: number; ratioToMinOfCeilingAndWrites: number };
    processor: { perSec: number; ceiling: number; ratio: number };
  };
}

/** The goals of the run's configuration, measured (see Goals). */
function goalsOf(r: E2eResult): Goals {
  const goals: Goals = {};
  const t = r.throughput!;
  const loaderOverProcessor = t.loader.perSec && t.processor.perSec ? Number((t.loader.perSec / t.processor.perSec).toFixed(3)) : null;
  goals.loaderOverProcessor = { goal: 1, measured: loaderOverProcessor, met: loaderOverProcessor !== null && loaderOverProcessor >= 1 };
  if (r.latency) {
    const measured = r.latency.toBigQuery.perRow.p99Ms;
    const applies = r.configuration.staging === 'storage-write' && r.configuration.grouping === 'shipped';
    goals.visibleP99Ms = { goal: 10000, measured, appliesToThisConfiguration: applies, met: measured !== null && measured <= 10000 };
  }
  if (r.configuration.mode === 'backlog' && r.rssFlatness) {
    goals.rssFlat = Object.fromEntries(
      SERVICE_STAGES.map(({ key }) => {
        const ratio = r.rssFlatness![key].ratio;
        // null: the run had fewer than three full minutes to compare
        return [key, { goal: RSS_FLAT_GOAL, measured: ratio, met: ratio === null ? null : ratio <= RSS_FLAT_GOAL }];
      }),
    );
  }
  return goals;
}

/** When each file was done by a service, from its log: its `message` lines with a `file` (epoch ms by file path). */
function doneAt(service: ServiceProcess, message: string): Map<string, number> {
  const done = new Map<string, number>();
  for (const text of service.output) {
    let line: { msg?: string; file?: string; time?: string } | null;
    try {
      line = JSON.parse(text);
    } catch {
      line = null;
    }
    if (line?.msg === message && line.file && line.time) done.set(line.file, Date.parse(line.time));
  }
  return done;
}

async function main(): Promise<void> {
  const events = Number(args.events);
  const backlog = args.backlog;
  const holdDownstream = backlog && args['hold-downstream'];
  const grouping = args['shipped-grouping'] ? 'shipped' : 'emulator';
  const configuration: Configuration = {
    mode: backlog ? 'backlog' : 'live',
    staging: args.staging,
    grouping,
    label: `${backlog ? (holdDownstream ? 'backlog drained from Kafka (the cdc published it live; processor and loader held)' : 'backlog drained') : 'written live'}, LOADER_STAGING=${args.staging}, ${
      grouping === 'shipped' ? 'shipped grouping (window and load-job budget as in production)' : 'emulator grouping (1 s window, load jobs unpaced)'
    }`,
  };
  const partitions = args.partitions;
  const base = uniqueName('bench-e2e');
  const db = base.replaceAll('-', '_');
  const cdcTopic = `${base}-orders-cdc`;
  const filesTopic = `${base}-files`;
  const outputDir = join(repoRoot, '.run', 'bench-data', base);
  const envs: Record<ServiceName, Record<string, string>> = {
    cdc: cdcStreamEnv(base, db, { KAFKA_TOPIC_PARTITIONS: partitions, KAFKA_CLIENT_ID: `${base}-cdc` }),
    processor: {
      KAFKA_BROKERS: infra.kafkaBrokers,
      KAFKA_CLIENT_ID: `${base}-processor`,
      KAFKA_TOPIC_PARTITIONS: partitions,
      PROCESSOR_TOPICS: cdcTopic,
      PROCESSOR_GROUP_ID: `${base}-processor`,
      PROCESSOR_FILES_TOPIC: filesTopic,
      PROCESSOR_OUTPUT_DIR: outputDir,
      PROCESSOR_BATCH_MAX_AGE_MS: args['batch-max-age-ms'],
    },
    loader: {
      KAFKA_BROKERS: infra.kafkaBrokers,
      KAFKA_CLIENT_ID: `${base}-loader`,
      KAFKA_TOPIC_PARTITIONS: partitions,
      LOADER_GROUP_ID: `${base}-loader`,
      LOADER_FILES_TOPIC: filesTopic,
      LOADER_INPUT_DIR: outputDir,
      ...(args['shipped-grouping'] ? {} : { LOADER_GROUP_WINDOW_MS: args['group-window-ms'], LOADER_LOAD_JOBS_PER_DAY: '1000000' }),
      LOADER_STAGING: args.staging,
      LOADER_STORAGE_WRITE_ENDPOINT: infra.bigqueryGrpcEndpoint,
      BQ_DATASET: db,
      GCS_BUCKET: base,
      ...gcp,
    },
  };
  const cdcConfig = cdcConfigSchema.parse(envs.cdc);
  const processorConfig = processorConfigSchema.parse(envs.processor);
  /** the shipped budget, for the comparison with the load jobs this run's rate implies */
  const shippedBudget = loaderConfigSchema.parse({}).LOADER_LOAD_JOBS_PER_DAY;
  const gcpConfig = { ...gcp, BQ_LOCATION: 'US', GCS_BUCKET: base, GCS_STAGING_MAX_AGE_DAYS: 7, BQ_DATASET: db, BQ_CHANGES_TABLE: 'orders_changes', BQ_CURRENT_TABLE: 'orders_current' };
  const bqPort = Number(new URL(gcp.BIGQUERY_ENDPOINT).port);
  const gcsPort = Number(new URL(gcp.GCS_ENDPOINT).port);

  const result: E2eResult = {
    bench: 'e2e',
    at: new Date().toISOString(),
    node: process.version,
    events,
    configuration,
    names: { base, db, cdcTopic, filesTopic, dataset: db, bucket: base },
    settings: {
      partitions: Number(partitions),
      insertBatch: Number(args['insert-batch']),
      cdc: { batchMaxEvents: cdcConfig.CDC_BATCH_MAX_EVENTS, batchMaxBytes: cdcConfig.CDC_BATCH_MAX_BYTES, batchMaxWaitMs: cdcConfig.CDC_BATCH_MAX_WAIT_MS },
      processor: {
        batchMaxRows: processorConfig.PROCESSOR_BATCH_MAX_ROWS,
        batchMaxBytes: processorConfig.PROCESSOR_BATCH_MAX_BYTES,
        batchMaxAgeMs: processorConfig.PROCESSOR_BATCH_MAX_AGE_MS,
        library: processorConfig.PROCESSOR_PARQUET_LIBRARY,
        compression: processorConfig.PROCESSOR_PARQUET_COMPRESSION,
        partitionsConcurrency: processorConfig.PROCESSOR_PARTITIONS_CONCURRENCY,
      },
      envs,
    },
    load: { atStart: load() },
  };
  console.error(`e2e bench: ${fmt(events)} changes, names ${base}, load ${load().join(' ')}`);

  const mongo = new mongodb.MongoClient(infra.mongoUri, { serverSelectionTimeoutMS: 10000 });
  await mongo.connect();
  const collection = mongo.db(db).collection('orders');
  const services: Partial<Record<ServiceName, ServiceProcess>> = {};
  const rss: Partial<Record<ServiceName, ReturnType<typeof rssSampler>>> = {};
  const running = () => Object.entries(services) as [ServiceName, ServiceProcess][];
  try {
    // 1. The three services, each ready before the next starts (the CDC creates the change topic, the processor the files topic).
    const t0 = now();
    let cdc = (services.cdc = await startBenchService('cdc', envs.cdc, `${base}-cdc`));
    await cdc.waitForLine(/change stream opened/, 120000);
    let processor = (services.processor = await startBenchService('processor', envs.processor, `${base}-processor`));
    await processor.waitForLine(/joined the consumer group/, 120000);
    let loader = (services.loader = await startBenchService('loader', envs.loader, `${base}-loader`));
    await loader.waitForLine(/joined the consumer group/, 120000);
    result.startupSeconds = (now() - t0) / 1000;
    const ping = await mongo.db('admin').command({ ping: 1 });
    const startAt = { t: ping.operationTime.high >>> 0, i: ping.operationTime.low >>> 0 };

    // Backlog: the services stop (the cdc's checkpoint, the groups' offsets and topics stay), the N changes are
    // written, and the three start again at once on the backlog: the run is timed from their start.
    let backlogWritten: BacklogWritten | null = null;
    let drainStartedAt: number | null = null;
    let heldCdc: StageThroughput | null = null;
    if (backlog) {
      if (!holdDownstream) await cdc.kill('SIGTERM');
      await processor.kill('SIGTERM');
      await loader.kill('SIGTERM');
      console.error(`writing the backlog with the ${holdDownstream ? 'processor and the loader' : 'services'} stopped (load ${load().join(' ')})`);
      const writeStartedAt = now();
      backlogWritten = result.write = await writeBacklog(collection, events, Number(args['insert-batch']));
      backlogWritten.load = load();
      console.error(`  wrote ${fmt(events)} changes in ${backlogWritten.seconds.toFixed(1)} s (${fmt(backlogWritten.changesPerSec)}/s) (load ${load().join(' ')})`);
      if (holdDownstream) {
        while (metricValue(await cdc.metrics(), 'cdc_events_published_total') < events) {
          if (cdc.exitCode !== undefined) throw new Error(`cdc exited (${cdc.exitCode}):\n${cdc.output.slice(-15).join('\n')}`);
          await sleep(500);
        }
        const seconds = (now() - writeStartedAt) / 1000;
        heldCdc = { events, complete: true, startS: 0, doneS: seconds, seconds, perSec: events / seconds };
        console.error(`  the cdc published them ${seconds.toFixed(1)} s after the first write`);
      }
      console.error(`starting the services on the backlog (load ${load().join(' ')})`);
      drainStartedAt = now();
      if (!holdDownstream) cdc = services.cdc = await startBenchService('cdc', envs.cdc, `${base}-cdc-drain`);
      processor = services.processor = await startBenchService('processor', envs.processor, `${base}-processor-drain`);
      loader = services.loader = await startBenchService('loader', envs.loader, `${base}-loader-drain`);
      await Promise.all([
        ...(holdDownstream ? [] : [cdc.waitForLine(/change stream opened/, 120000)]),
        processor.waitForLine(/joined the consumer group/, 120000),
        loader.waitForLine(/joined the consumer group/, 120000),
      ]);
      result.drainStartupSeconds = (now() - drainStartedAt) / 1000;
    }
    for (const [name, s] of running()) rss[name] = rssSampler(s.pid, 1000);
    const serverRssPids = { bigquery: pidListeningOn(bqPort), gcs: pidListeningOn(gcsPort) };
    const meter = cpuMeter({
      cdc: cdc.pid,
      processor: processor.pid,
      loader: loader.pid,
      ...serverPids,
      bigquery: () => pidListeningOn(bqPort),
      gcs: () => pidListeningOn(gcsPort),
      bench: process.pid,
    });

    // 2. Live: writes at full speed while the stages are sampled every second. Backlog: the stages drain it.
    let written = backlog ? events : 0;
    const samples: Sample[] = [];
    // a drain is timed from the services' start, start-up included: nothing was done before it
    const startedAt = drainStartedAt ?? now();
    if (backlog) samples.push({ s: 0, written: events, cdc: holdDownstream ? events : 0, processor: 0, loader: 0, kafkaPid: serverPids.kafka(), mongoPid: serverPids.mongo() } as Sample);
    let sampling = true;
    const sampler = (async () => {
      let lastProgress = now();
      let lastTotal = -1;
      while (sampling) {
        const tick = now();
        for (const [name, s] of running()) {
          if (s.exitCode !== undefined) throw new Error(`${name} exited (${s.exitCode}):\n${s.output.slice(-15).join('\n')}`);
        }
        const texts = await Promise.all(SERVICE_STAGES.map((st) => services[st.key]!.metrics()));
        const sample = { s: Number(((now() - startedAt) / 1000).toFixed(2)), written, kafkaPid: serverPids.kafka(), mongoPid: serverPids.mongo() } as Sample;
        SERVICE_STAGES.forEach((st, k) => (sample[st.key] = metricValue(texts[k]!, st.metric)));
        for (const [name] of running()) sample[`${name}RssMiB`] = rss[name]?.samples.at(-1) ?? null;
        const servers = { kafka: sample.kafkaPid, mongo: sample.mongoPid, ...serverRssPids };
        for (const [name, pid] of Object.entries(servers)) sample[`${name}RssMiB`] = pid === null ? null : Number((memoryOf(pid)?.rssMiB ?? NaN).toFixed(1));
        const minute = Math.floor(sample.s / 60);
        if (samples.length > 0 && minute > Math.floor(samples.at(-1)!.s / 60)) console.error(minuteLine(minuteRows(samples.filter((x) => Math.floor(x.s / 60) === minute - 1))[0]!));
        samples.push(sample);
        if (sample.loader >= events) return;
        const total = sample.written + sample.cdc + sample.processor + sample.loader;
        if (total > lastTotal) {
          lastTotal = total;
          lastProgress = now();
        } else if (now() - lastProgress > 300000) {
          throw new Error(`no progress for 300 s: ${JSON.stringify(sample)} (logs: ${running().map(([, s]) => s.logFile).join(', ')})`);
        }
        await sleep(Math.max(0, 1000 - (now() - tick)));
      }
    })();
    sampler.catch(() => undefined); // handled below, after the writes (a failure while writing must not crash the run)
    meter.start();
    let write: BacklogWritten;
    try {
      if (backlogWritten) write = backlogWritten;
      else {
        write = result.write = await writeBacklog(collection, events, Number(args['insert-batch']), { onProgress: (n) => (written = n) });
        write.load = load();
        console.error(`  wrote ${fmt(events)} changes in ${write.seconds.toFixed(1)} s (${fmt(write.changesPerSec)}/s): ${JSON.stringify(write.ops)}`);
      }
      await sampler;
    } finally {
      sampling = false;
      await sampler.catch(() => undefined);
    }
    const pipelineSeconds = (now() - startedAt) / 1000;
    result.cpu = meter.stop();
    result.load.afterPipeline = load();
    const rssSummaries: Partial<Record<ServiceName, RssSummary>> = (result.rss = {});
    for (const [name, rssSampling] of Object.entries(rss) as [ServiceName, ReturnType<typeof rssSampler>][]) rssSummaries[name] = rssSampling.stop();
    result.peakRssMiB = Object.fromEntries(running().map(([name]) => [name, rssSummaries[name]?.peakMiB ?? null]));
    result.samples = samples;
    result.rssPerMinute = minuteRows(samples);
    result.rssFlatness = rssFlatness(result.rssPerMinute, samples.at(-1)?.s ?? 0);
    // The broker and the database are shared (tests may kill or restart them): a run during which one restarted
    // measured that too; it is flagged, not hidden.
    result.serverRestarts = (['kafkaPid', 'mongoPid'] as const).flatMap((key) =>
      samples.slice(1).flatMap((x, i) => (x[key] !== samples[i]![key] ? [{ server: key.replace('Pid', ''), atS: x.s, from: samples[i]![key], to: x[key] }] : [])),
    );
    if (result.serverRestarts.length > 0) console.error(`  WARNING: servers restarted during the run: ${JSON.stringify(result.serverRestarts)}`);
    result.pipelineSeconds = pipelineSeconds;
    const throughput = (result.throughput = {
      ...(Object.fromEntries(STAGES.map((st) => [st.key, stageThroughput(samples, st.key, events)])) as Record<StageKey, StageThroughput>),
      // a backlog was written before the run: its rate is the writer's own
      ...(backlog ? { written: { events, complete: true, seconds: write.seconds, perSec: write.changesPerSec } } : {}),
      // held downstream: the cdc published the backlog as it was written, before the drain
      ...(heldCdc ? { cdc: heldCdc } : {}),
      endToEnd: { events, seconds: pipelineSeconds, perSec: events / pipelineSeconds },
    });
    console.error(`  all ${fmt(events)} rows loaded ${pipelineSeconds.toFixed(1)} s after ${backlog ? 'the services started' : 'the first write'}`);

    // 3. Latency: per file, from the cluster times of its rows to its commit (processor) and its load (loader).
    const metricsText = await processor.metrics();
    result.processorFiles = metricValue(metricsText, 'processor_files_written_total');
    const loaderMetrics = await loader.metrics();
    const jobs = metricValue(loaderMetrics, 'loader_load_jobs_today');
    const groups = metricValue(loaderMetrics, 'loader_group_files_count');
    const groupedFiles = metricValue(loaderMetrics, 'loader_group_files_sum');
    const loaderSeconds = throughput.loader.seconds;
    // At this traffic with the shipped budget, the window stretches to the budget's pace and groups grow to match.
    const pacedWindowS = 86400 / shippedBudget;
    result.loadJobs = {
      jobs,
      groups,
      meanGroupFiles: groups ? groupedFiles / groups : null,
      perDayAtThisRate: loaderSeconds ? Math.round((jobs / loaderSeconds) * 86400) : null,
      appendedBytes: metricValue(loaderMetrics, 'loader_appended_bytes_total'),
      shippedBudget,
      atShippedBudget: {
        windowS: pacedWindowS,
        groupFiles: loaderSeconds ? Math.ceil((groupedFiles / loaderSeconds) * pacedWindowS) : null,
        perDay: Math.min(shippedBudget, loaderSeconds ? Math.round((jobs / loaderSeconds) * 86400) : shippedBudget),
      },
    };
    const committed = doneAt(processor, 'file committed');
    const loaded = doneAt(loader, 'file loaded');
    for (const [, s] of running()) await s.kill('SIGTERM');
    let files: AnnouncedFile[];
    try {
      files = await announcedFiles(filesTopic, events, outputDir, { checkSizes: false });
    } catch (error) {
      // e.g. duplicates announced after a broker restart: recorded, and the run goes on with what was announced
      result.filesCheck = reasonOf(error);
      console.error(`  WARNING: the files topic failed its check: ${reasonOf(error)}`);
      files = await announcedFiles(filesTopic, events, outputDir, { checkSizes: false, check: false });
    }
    result.files = { announcedRows: files.reduce((sum, f) => sum + f.rows, 0), count: files.length, committedLogged: committed.size, loadedLogged: loaded.size, meanRows: events / files.length };
    // a backlog's rows were written before the services ran: their age measures the backlog, not the pipeline
    if (!backlog) result.latency = { toParquet: latencies(files, committed), toBigQuery: latencies(files, loaded) };
    result.goals = goalsOf(result);
    try {
      const { bigquery } = createGcpClients(gcpConfig);
      const [rows] = await bigquery.query({ query: `SELECT COUNT(*) AS n FROM \`${gcp.GCP_PROJECT}.${db}.${gcpConfig.BQ_CHANGES_TABLE}\`` });
      result.bigQueryRows = Number(rows[0].n);
    } catch (error) {
      result.bigQueryRows = `query failed: ${reasonOf(error)}`;
    }

    // 4. The ceilings, on the same changes, rows and files, each alone in a fresh process.
    if (!args['no-ceilings']) {
      const step = <C extends { load?: number[]; eventsPerSec?: number; rowsPerSec?: number }>(name: string, fn: () => C): C => {
        console.error(`ceiling ${name}, load ${load().join(' ')}`);
        const ceiling = fn();
        ceiling.load = load();
        console.error(`  ${name}: ${fmt(ceiling.eventsPerSec ?? ceiling.rowsPerSec)}/s`);
        return ceiling;
      };
      const read = step('read', () =>
        runCeiling('read', { db, startAt, events, batchSize: Math.min(cdcConfig.CDC_BATCH_MAX_EVENTS, 1000), maxAwaitMs: Math.min(cdcConfig.CDC_BATCH_MAX_WAIT_MS, 1000) }),
      );
      const produce = step('produce', () =>
        runCeiling('produce', {
          fromTopic: cdcTopic,
          toTopic: `${base}-ceiling`,
          partitions: Number(partitions),
          batchMaxEvents: cdcConfig.CDC_BATCH_MAX_EVENTS,
          batchMaxBytes: cdcConfig.CDC_BATCH_MAX_BYTES,
          transactional: false,
        }),
      );
      const consume = step('consume', () => runCeiling('consume', { topic: cdcTopic, rows: events, partitionsConcurrency: processorConfig.PROCESSOR_PARTITIONS_CONCURRENCY }));
      const writeCeiling = step('write', () => runCeiling('write', { topic: cdcTopic, env: envs.processor, files: fileRanges(files) }));
      result.ceilings = { read, produce, consume, write: writeCeiling };
      const cdcCeiling = Math.min(read.eventsPerSec, produce.eventsPerSec);
      const processorCeiling = Math.min(consume.rowsPerSec, writeCeiling.rowsPerSec);
      const cdcPerSec = throughput.cdc.perSec ?? NaN;
      const processorPerSec = throughput.processor.perSec ?? NaN;
      result.ratios = {
        cdc: {
          perSec: cdcPerSec,
          ceiling: cdcCeiling,
          ratio: cdcPerSec / cdcCeiling,
          writesPerSec: write.changesPerSec,
          ratioToMinOfCeilingAndWrites: cdcPerSec / Math.min(cdcCeiling, write.changesPerSec),
        },
        processor: { perSec: processorPerSec, ceiling: processorCeiling, ratio: processorPerSec / processorCeiling },
      };
    }
    result.load.atEnd = load();
  } finally {
    for (const [, s] of running()) await s.kill('SIGTERM');
    for (const rssSampling of Object.values(rss)) rssSampling.stop();
    if (!args.keep) {
      const doomed = await withAdmin(kafka, (admin) => admin.listTopics()).then((all) => all.filter((t) => t.startsWith(base)));
      await deleteTopics(kafka, doomed).catch((e: unknown) => console.error(`topic clean-up failed: ${reasonOf(e)}`));
      await mongo
        .db(db)
        .dropDatabase()
        .catch(() => undefined);
      rmSync(outputDir, { recursive: true, force: true });
      try {
        const { bigquery, storage } = createGcpClients(gcpConfig);
        await bigquery.dataset(db).delete({ force: true });
        await storage.bucket(base).deleteFiles({ force: true });
        await storage.bucket(base).delete();
      } catch (error) {
        console.error(`BigQuery / Cloud Storage clean-up: ${reasonOf(error)}`);
      }
    }
    await mongo.close();
  }

  const path = saveResult('e2e', result);
  const svgPath = path.replace(/\.json$/, '.svg');
  const title = `e2e: ${fmt(events)} changes, ${configuration.label}, ${result.settings.partitions} partitions, load ${result.load.atStart.join(' ')}`;
  writeFileSync(svgPath, svgChart(result.samples ?? [], title, backlog ? 'seconds since the services started on the backlog' : 'seconds since the first write'));
  summarize(result);
  console.log(`\nsaved ${path}\n      ${svgPath}`);
}

function summarize(r: E2eResult): void {
  const t = r.throughput!;
  const write = r.write!;
  const cpu = r.cpu ?? {};
  const peak = r.peakRssMiB ?? {};
  const s = (v: number | null | undefined) => (v === null || v === undefined ? '-' : `${(v / 1000).toFixed(2)} s`);
  console.log(`\nEnd-to-end benchmark: ${fmt(r.events)} changes (${JSON.stringify(write.ops)}), ${r.settings.partitions} partitions, files at ${r.settings.processor.batchMaxAgeMs} ms, node ${r.node}`);
  console.log(`configuration measured: ${r.configuration.label}`);
  if (r.serverRestarts?.length) console.log(`WARNING: a shared server restarted (or was down) during the run, the figures include that: ${JSON.stringify(r.serverRestarts)}`);
  console.log(`load average: start ${r.load.atStart.join(' ')}, after the pipeline ${r.load.afterPipeline?.join(' ')}, end ${r.load.atEnd?.join(' ')}\n`);
  console.log('| stage | events/s (N / active span) | best 5 s | active s | ceiling events/s | ratio | peak RSS MiB | cpu |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  console.log(`| MongoDB writes | ${fmt(t.written.perSec)} | ${fmt(t.written.best5sPerSec)} | ${t.written.seconds?.toFixed(1)} | | | | mongo ${cpu.mongo} |`);
  console.log(
    `| cdc | ${fmt(t.cdc.perSec)} | ${fmt(t.cdc.best5sPerSec)} | ${t.cdc.seconds?.toFixed(1)} | ${fmt(r.ratios?.cdc.ceiling)} (read ${fmt(r.ceilings?.read?.eventsPerSec)}, produce ${fmt(r.ceilings?.produce?.eventsPerSec)}) | ${r.ratios?.cdc.ratio.toFixed(2) ?? '-'} | ${peak.cdc} | ${cpu.cdc} |`,
  );
  console.log(
    `| processor | ${fmt(t.processor.perSec)} | ${fmt(t.processor.best5sPerSec)} | ${t.processor.seconds?.toFixed(1)} | ${fmt(r.ratios?.processor.ceiling)} (consume ${fmt(r.ceilings?.consume?.rowsPerSec)}, write ${fmt(r.ceilings?.write?.rowsPerSec)}) | ${r.ratios?.processor.ratio.toFixed(2) ?? '-'} | ${peak.processor} | ${cpu.processor} |`,
  );
  console.log(`| loader | ${fmt(t.loader.perSec)} | ${fmt(t.loader.best5sPerSec)} | ${t.loader.seconds?.toFixed(1)} | | | ${peak.loader} | ${cpu.loader} (bigquery ${cpu.bigquery}, gcs ${cpu.gcs}) |`);
  if (r.ratios) console.log(`| (cdc / min(ceiling, MongoDB write rate)) | | | | ${fmt(Math.min(r.ratios.cdc.ceiling, write.changesPerSec))} | ${r.ratios.cdc.ratioToMinOfCeilingAndWrites.toFixed(2)} | | |`);
  console.log(`| end to end | ${fmt(t.endToEnd.perSec)} | | ${t.endToEnd.seconds.toFixed(1)} | | | | kafka ${cpu.kafka}, bench ${cpu.bench} |`);
  const l = r.latency;
  if (l) {
    const line = (name: string, x: LatencySummary) => `${name}p50 ${s(x.p50Ms)}, p99 ${s(x.p99Ms)}, max ${s(x.maxMs)}`;
    console.log(`\nlatency from the MongoDB write (cluster_time, 1 s resolution), per row (rows spread evenly over their file's cluster times):`);
    console.log(`${line('  to durable Parquet:   ', l.toParquet.perRow)} (${l.toParquet.files} files)`);
    console.log(`${line('  to visible in BigQuery: ', l.toBigQuery.perRow)} (${l.toBigQuery.files} files)`);
    console.log(
      `  newest row of each file (row-weighted): Parquet p50 ${s(l.toParquet.perFileNewestRow.p50Ms)} p99 ${s(l.toParquet.perFileNewestRow.p99Ms)}; BigQuery p50 ${s(l.toBigQuery.perFileNewestRow.p50Ms)} p99 ${s(l.toBigQuery.perFileNewestRow.p99Ms)}`,
    );
  }
  console.log('\nRSS per minute (highest in the minute):');
  for (const row of r.rssPerMinute ?? []) console.log(minuteLine(row));
  const flat = r.rssFlatness;
  if (flat) console.log(`RSS flatness, last full minute / minute 2: ${RSS_PROCESSES.map((name) => `${name} ${flat[name].ratio ?? '-'}`).join(', ')}`);
  const g = r.goals ?? {};
  const verdict = (met: boolean | null) => (met === null ? 'not measured (fewer than three full minutes)' : met ? 'met' : 'NOT met');
  console.log('goals:');
  if (g.visibleP99Ms) {
    const applies = g.visibleP99Ms.appliesToThisConfiguration ? 'the goal is for this configuration' : 'the goal is for storage-write under the shipped grouping, not this configuration';
    console.log(`  visible in BigQuery p99 ${s(g.visibleP99Ms.measured)} <= 10 s: ${verdict(g.visibleP99Ms.met)} (${applies})`);
  }
  if (g.loaderOverProcessor) console.log(`  loader / processor throughput ${g.loaderOverProcessor.measured ?? '-'} >= 1: ${verdict(g.loaderOverProcessor.met)}`);
  for (const [name, x] of Object.entries(g.rssFlat ?? {})) console.log(`  ${name} RSS flat (last full minute / minute 2 = ${x.measured ?? '-'} <= ${x.goal}): ${verdict(x.met)}`);
  console.log(`rows in BigQuery orders_changes: ${r.bigQueryRows}; ${r.files?.count} files (mean ${fmt(r.files?.meanRows)} rows)`);
  const j = r.loadJobs;
  if (j) {
    const loaderEnv = r.settings.envs.loader;
    const grouping = loaderEnv.LOADER_LOAD_JOBS_PER_DAY ? `group window ${loaderEnv.LOADER_GROUP_WINDOW_MS} ms, unpaced: the emulator has no quota` : 'shipped window and load-job budget';
    console.log(`loader (${loaderEnv.LOADER_STAGING}): ${j.groups} groups (mean ${j.meanGroupFiles?.toFixed(1)} files), ${j.jobs} load jobs = ${fmt(j.perDayAtThisRate)} per day at this rate (${grouping})`);
    if (j.appendedBytes > 0) console.log(`  ${fmt(j.appendedBytes)} bytes appended through the Storage Write API (${fmt(Math.round(j.appendedBytes / r.events))} per change)`);
    console.log(
      `  beside the shipped budget of ${fmt(j.shippedBudget)} load jobs per table per day: at this traffic the window stretches to ${j.atShippedBudget.windowS.toFixed(1)} s, groups of ~${fmt(j.atShippedBudget.groupFiles)} files, ${fmt(j.atShippedBudget.perDay)} jobs a day`,
    );
  }
  console.log('\ncpu = CPU seconds per wall second over the pipeline run (1.0 = one core of 2). The stages run concurrently on the same 2 cores;');
  console.log('the ceilings run afterwards, each alone. The CDC cannot publish faster than MongoDB is written: compare it with the write rate too.');
}

await main();
process.exit(0);
