// What the benchmarks of the services (bench/cdc.ts, bench/processor.ts, bench/e2e.ts) share beyond common.ts:
// their common options, timing a running service and retried rounds.
import type { ParseArgsConfig } from 'node:util';
import type { MongoClient } from 'mongodb';
import { metricValue, startService, type ServiceProcess } from '@cdc/tests/dist/support/service-process.js';
import { sleep } from '@cdc/tests/dist/support/wait.js';
import { cpuMeter, deleteTopics, load, logDir, median, memoryOf, nodeOptionsOf, now, processEnvironmentOf, reasonOf, rssSampler, waitForServers, type CpuShares, type Kafka, type PidSource, type RssSummary } from './common.js';

/**
 * A service started as the tests start it (test/support), with the Node flags the container image and the local
 * stack give it ("nodeOptions" and "processEnvironment" of its package.json), its log under .run/bench-logs/. `nodeArgs` go before the
 * script (e.g. --cpu-prof); `distDir` (relative to the repository root) runs another build of the service.
 */
export function startBenchService(service: 'cdc' | 'processor' | 'loader', env: Record<string, string>, label: string, nodeArgs: string[] = [], distDir?: string): Promise<ServiceProcess> {
  return startService(service, { ...processEnvironmentOf(service), ...env }, label, { nodeArgs, nodeOptions: nodeOptionsOf(service), logDir, ...(distDir ? { distDir } : {}) });
}

/** One setting of the service compared with others on the same input. */
export interface Variant {
  name: string;
  env: Record<string, string>;
  nodeArgs?: string;
  /** another build of the service, relative to the repository root (e.g. a copy of an earlier dist/ under .run/) */
  dist?: string;
}

/** The options bench/cdc.ts and bench/processor.ts share (parsed with their own; see serviceBenchSettings). */
export const serviceBenchOptions = {
  partitions: { type: 'string', default: '6' },
  env: { type: 'string', default: '' },
  variants: { type: 'string' },
  'cpu-prof': { type: 'boolean', default: false },
  'node-args': { type: 'string', default: '' },
  keep: { type: 'boolean', default: false },
} as const satisfies ParseArgsConfig['options'];

/**
 * What the shared options say: --env A=1,B=2 as `extraEnv`, and `variants` compared on the same input (--variants
 * '[{ "name": "a", "env": {"VAR": "value"}, "nodeArgs": "--flag", "dist": "<dir>" }]', one `default` variant without).
 */
export function serviceBenchSettings(args: { env: string; variants?: string | undefined }): { extraEnv: Record<string, string>; variants: Variant[] } {
  const extraEnv: Record<string, string> = Object.fromEntries(
    args.env
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const variants: Variant[] = args.variants ? JSON.parse(args.variants) : [{ name: 'default', env: {} }];
  for (const v of variants) v.env ??= {};
  return { extraEnv, variants };
}

/** The node flags of a service run: `text` split, plus a CPU profile written to `profileDir` when asked for. */
export function nodeArgsOf(text: string, profile: { dir: string; name?: string } | null): string[] {
  const nodeArgs = text.split(' ').filter(Boolean);
  if (profile) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${profile.dir}`, ...(profile.name ? [`--cpu-prof-name=${profile.name}`] : []));
  return nodeArgs;
}

export interface ServiceTiming {
  count: number;
  readyAt: number;
  firstAt: number | null;
  endAt: number;
  metricsText: string;
  rss: RssSummary;
  cpu: CpuShares;
  load: { before: number[]; after: number[] };
  overTime: Record<string, number>[];
}

/**
 * Times a service started by startService from its `ready` log line until its counter `metric` reaches `target`
 * `unit`s, with the CPU of the service, `pids` and the benchmark, and the service's RSS. `sample(text, count)` adds
 * fields to the row taken about once a second (`overTime`). Fails when the service exits or makes no progress for 90 s.
 * Returns the times (performance.now()) it was ready, first counted and done, and its last /metrics text.
 */
export async function timeService(
  service: ServiceProcess,
  options: { name: string; ready: RegExp; metric: string; target: number; unit: string; pids: Record<string, PidSource>; sample: (text: string, count: number) => Record<string, number> },
): Promise<ServiceTiming> {
  const { name, ready, metric, target, unit, pids, sample } = options;
  // RSS sampled once per second from the start of the work (VmHWM still covers start-up)
  let rss: ReturnType<typeof rssSampler> | null = null;
  const overTime: Record<string, number>[] = [];
  const meter = cpuMeter({ [name]: service.pid, ...pids, bench: process.pid });
  const loadBefore = load();
  try {
    const readyAt = (await service.waitForLine(ready, 120000)).at;
    rss = rssSampler(service.pid, 1000);
    meter.start();
    let count = 0;
    let firstAt: number | null = null;
    let lastProgress = now();
    let lastSampleAt = 0;
    while (count < target) {
      if (service.exitCode !== undefined) throw new Error(`${name} exited (${service.exitCode}):\n${service.output.slice(-15).join('\n')}`);
      const text = await service.metrics();
      const value = metricValue(text, metric);
      const t = now();
      if (value > count) {
        count = value;
        lastProgress = t;
        firstAt ??= t;
      }
      if (t - lastSampleAt >= 1000) {
        lastSampleAt = t;
        overTime.push({ s: Number(((t - readyAt) / 1000).toFixed(1)), ...sample(text, count), rssMiB: Number((memoryOf(service.pid)?.rssMiB ?? 0).toFixed(1)) });
      }
      if (t - lastProgress > 90000) throw new Error(`no progress for 90 s at ${count} of ${target} ${unit} (log: ${service.logFile})`);
      // Every 200 ms: rendering /metrics costs the service ~1% of its CPU at 50 ms.
      if (count < target) await sleep(200);
    }
    const endAt = now();
    const cpu = meter.stop();
    const memory = rss.stop();
    const metricsText = await service.metrics();
    return { count, readyAt, firstAt, endAt, metricsText, rss: memory, cpu, load: { before: loadBefore, after: load() }, overTime };
  } finally {
    rss?.stop();
  }
}

/** What every timed service run reports besides its own counts. */
export interface ServiceRunFigures {
  /** from its ready line until done */
  seconds: number;
  secondsFromSpawn: number;
  startupSeconds: number;
  rss: RssSummary;
  peakRssMiB: number | null;
  cpu: CpuShares;
  load: { before: number[]; after: number[] };
  overTime: Record<string, number>[];
  logFile: string;
}

export function serviceRunFigures(service: ServiceProcess, run: ServiceTiming): ServiceRunFigures {
  return {
    seconds: (run.endAt - run.readyAt) / 1000,
    secondsFromSpawn: (run.endAt - service.startedAt) / 1000,
    startupSeconds: (run.readyAt - service.startedAt) / 1000,
    rss: run.rss,
    peakRssMiB: run.rss.peakMiB,
    cpu: run.cpu,
    load: run.load,
    overTime: run.overTime,
    logFile: service.logFile,
  };
}

export interface RoundRetry {
  round: number;
  attempt: number;
  reason: string;
  at: string;
}

/**
 * Runs `runRound(r, attempt)` for rounds 0 to runs - 1. The broker and the database are shared with tests that
 * restart them: a round that fails is run again (at most twice) once they answer, each failure recorded in
 * `retries`. After every attempt the topics it added to `topics.list` (after its first `topics.keep`) are deleted;
 * `topics: null` keeps them (--keep).
 */
export async function runRounds(
  runs: number,
  runRound: (round: number, attempt: number) => Promise<void>,
  options: { kafka: Kafka; mongo?: MongoClient | null; retries: RoundRetry[]; topics: { list: string[]; keep: number } | null },
): Promise<void> {
  const { kafka, mongo = null, retries, topics } = options;
  for (let r = 0; r < runs; r++) {
    for (let attempt = 0; ; attempt++) {
      try {
        await runRound(r, attempt);
        break;
      } catch (error) {
        const reason = reasonOf(error);
        if (attempt >= 2) throw error;
        console.error(`round ${r} failed (${reason}): waiting for the ${mongo ? 'servers' : 'broker'}, then running it again`);
        retries.push({ round: r, attempt, reason, at: new Date().toISOString() });
        await waitForServers(kafka, mongo);
      } finally {
        if (topics) await deleteTopics(kafka, topics.list.splice(topics.keep)).catch(() => undefined);
      }
    }
  }
}

/** The rounds that were run again, and why. */
export function printRetries(retries: RoundRetry[]): void {
  for (const retry of retries) console.log(`round ${retry.round} was run again after: ${retry.reason}`);
}

/** Per variant with two runs or more: the median of each figure over its runs. */
export function mediansByVariant<R extends { variant: string }, K extends string>(
  runs: R[],
  variants: Variant[],
  figures: Record<K, (run: R) => number | null | undefined>,
): Record<string, Record<K, number | null>> {
  const medians: Record<string, Record<K, number | null>> = {};
  for (const { name } of variants) {
    const mine = runs.filter((r) => r.variant === name);
    if (mine.length < 2) continue;
    medians[name] = Object.fromEntries(Object.entries<(run: R) => number | null | undefined>(figures).map(([key, figure]) => [key, median(mine.map(figure))])) as Record<K, number | null>;
  }
  return medians;
}
