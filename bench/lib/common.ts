// Shared helpers of the pipeline benchmarks (bench/cdc.ts, bench/processor.ts, bench/e2e.ts, bench/parquet-writers.ts):
// realistic orders, process sampling from /proc, Kafka topic helpers and result files. Names, ports, the service
// starter and the seeded generator are the tests' own (test/support).
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { KafkaJS } from '@confluentinc/kafka-javascript';
import type { BSON as CoreBSON } from '@cdc/core';
import type { MongoClient } from 'mongodb';
import { seededRandom } from '@cdc/tests/dist/support/random.js';
import { repoRoot } from '@cdc/tests/dist/support/service-process.js';
import { sleep } from '@cdc/tests/dist/support/wait.js';

export type Kafka = KafkaJS.Kafka;
export type Admin = KafkaJS.Admin;

export const resultsDir = join(repoRoot, 'bench', 'results');
export const logDir = join(repoRoot, '.run', 'bench-logs');

export const now = () => performance.now();
export const load = () => loadavg().map((v) => Number(v.toFixed(2)));

/** The BSON classes an order is built from: the driver's own, or the ones @cdc/core re-exports. */
type BsonClasses = Pick<typeof CoreBSON, 'Decimal128' | 'Int32' | 'Long' | 'ObjectId'>;

/**
 * A realistic order: nested customer and address, 1-5 items with Decimal128 prices, Int32 quantities, Long order
 * number, dates, tags. About 0.9 KiB as canonical Extended JSON. Its status is 'new', or with `randomStatus` a random
 * one (bench/parquet-writers.ts). The same seed gives the same orders, so runs write comparable data.
 */
export function orderFactory(BSON: BsonClasses, seed = 42) {
  const { Decimal128, Int32, Long, ObjectId } = BSON;
  const random = seededRandom(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const price = () => Decimal128.fromString((1 + random() * 500).toFixed(2));
  const cities = ['Zürich', 'Berlin', 'Lyon', 'Porto', 'Kraków', '東京'];
  const statuses = ['new', 'paid', 'packed', 'shipped', 'delivered', 'cancelled'];
  const baseSeconds = 1764151872;
  return {
    random,
    pick,
    statuses,
    order(n: number, id: InstanceType<BsonClasses['ObjectId']> = new ObjectId(), { randomStatus = false } = {}) {
      const items = Array.from({ length: 1 + Math.floor(random() * 5) }, (_, k) => ({
        sku: `SKU-${Math.floor(random() * 100000)}`,
        name: `Product ${k} ${pick(['red', 'blue', 'large', 'small', 'organic'])}`,
        qty: new Int32(1 + Math.floor(random() * 4)),
        unit_price: price(),
        discount: random() < 0.2 ? price() : null,
      }));
      return {
        _id: id,
        order_no: Long.fromNumber(1_000_000 + n),
        customer: {
          id: new ObjectId(Math.floor(random() * 1e9).toString(16).padStart(24, '0')),
          email: `customer${n % 5000}@example.com`,
          tier: pick(['basic', 'gold', 'platinum']),
        },
        status: randomStatus ? pick(statuses) : 'new',
        items,
        total: price(),
        currency: 'EUR',
        shipping: { street: `${Math.floor(random() * 300)} Main Street`, city: pick(cities), zip: String(10000 + Math.floor(random() * 89999)) },
        created_at: new Date((baseSeconds - 86400 + n) * 1000),
        updated_at: new Date((baseSeconds + n) * 1000),
        tags: random() < 0.5 ? ['priority'] : [],
      };
    },
  };
}

// ------------------------------------------------------------------ processes

/** VmRSS / VmHWM of a process in MiB (null once it is gone). */
export function memoryOf(pid: number): { rssMiB: number; hwmMiB: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

const clockTicks = 100; // USER_HZ on Linux
/** CPU seconds (user + system) used so far by a process, or null. */
export function cpuSecondsOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** The pid of the process listening on a loopback TCP port (the broker, the MongoDB server), or null. */
export function pidListeningOn(port: number): number | null {
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1]!.split(':')[1]!, 16);
      if (localPort === port && cols[3] === '0A') inodes.add(cols[9]!);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m && inodes.has(m[1]!)) return Number(entry);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return null;
}

/** A pid, or a function returning the current one (a server restarted by someone else gets a new pid). */
export type PidSource = number | null | (() => number | null);
/** CPU seconds per wall second, by label (1.0 = one core busy); null when the process was gone or replaced */
export type CpuShares = Record<string, number | null>;

/**
 * CPU seconds used by a set of processes between start() and stop(): tells which side (service, broker, database,
 * the benchmark itself) was busy. `pids` maps a label to a pid, or to a function returning the current one (a
 * broker restarted by someone else's test gets a new pid: its share is then reported as null).
 */
export function cpuMeter(pids: Record<string, PidSource>) {
  const resolvePid = (p: PidSource) => (typeof p === 'function' ? p() : p);
  let before: Record<string, { pid: number | null; cpu: number | null }> = {};
  let startedAt = 0;
  return {
    start() {
      startedAt = now();
      before = Object.fromEntries(
        Object.entries(pids).map(([k, p]) => {
          const pid = resolvePid(p);
          return [k, { pid, cpu: pid === null ? null : cpuSecondsOf(pid) }];
        }),
      );
    },
    stop(): CpuShares {
      const seconds = (now() - startedAt) / 1000;
      return Object.fromEntries(
        Object.entries(pids).map(([k, p]) => {
          const pid = resolvePid(p);
          const cpu = pid === null ? null : cpuSecondsOf(pid);
          const was = before[k];
          return [k, cpu === null || !was || was.cpu === null || pid !== was.pid ? null : Number(((cpu - was.cpu) / seconds).toFixed(2))];
        }),
      );
    },
  };
}

export interface RssSummary {
  samples: number;
  minMiB: number | null;
  medianMiB: number | null;
  maxMiB: number | null;
  peakMiB: number | null;
  firstQuarterMedianMiB: number | null;
  lastQuarterMedianMiB: number | null;
}

/** Samples a process's RSS every `everyMs` until stopped; reports min / median / max and VmHWM. */
export function rssSampler(pid: number, everyMs = 1000) {
  const samples: number[] = [];
  let hwm = 0;
  const take = () => {
    const m = memoryOf(pid);
    if (m) {
      samples.push(m.rssMiB);
      hwm = Math.max(hwm, m.hwmMiB);
    }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop(): RssSummary {
      take();
      clearInterval(timer);
      const med = (list: number[]) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
      const sorted = [...samples].sort((a, b) => a - b);
      const round = (v: number | undefined) => (v === undefined ? null : Number(v.toFixed(1)));
      const quarter = Math.max(1, Math.floor(samples.length / 4));
      return {
        samples: samples.length,
        minMiB: round(sorted[0]),
        medianMiB: round(sorted[Math.floor(sorted.length / 2)]),
        maxMiB: round(sorted.at(-1)),
        peakMiB: round(hwm),
        // flat memory: the last quarter of the run is not above the first
        firstQuarterMedianMiB: round(med(samples.slice(0, quarter))),
        lastQuarterMedianMiB: round(med(samples.slice(-quarter))),
      };
    },
  };
}

const packageOf = (service: string) => JSON.parse(readFileSync(join(repoRoot, 'services', service, 'package.json'), 'utf8')) as { nodeOptions?: string; processEnvironment?: Record<string, string> };

/** The Node flags a service runs with everywhere: "nodeOptions" of its package.json (see the Dockerfile). */
export function nodeOptionsOf(service: string): string {
  return packageOf(service).nodeOptions ?? '';
}

/** The C library's settings a service runs with everywhere: "processEnvironment" of its package.json (see the Dockerfile). */
export function processEnvironmentOf(service: string): Record<string, string> {
  return packageOf(service).processEnvironment ?? {};
}

// ------------------------------------------------------------------ Kafka

export async function withAdmin<T>(kafka: Kafka, fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates topics and waits until each partition has a leader. */
export async function createTopics(kafka: Kafka, topics: string[], numPartitions: number, configEntries: { name: string; value: string }[] = []): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    await admin.createTopics({ topics: topics.map((topic) => ({ topic, numPartitions, replicationFactor: 1, configEntries })) });
    const deadline = Date.now() + 30000;
    for (;;) {
      try {
        const meta = await admin.fetchTopicMetadata({ topics });
        if (meta.every((t) => t.partitions.length === numPartitions && t.partitions.every((p) => p.leader >= 0))) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
      if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leaders after 30 s`);
      await sleep(100);
    }
  });
}

/** Deletes the benchmark's topics (they hold hundreds of MB); missing ones are ignored. */
export async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const doomed = [...new Set(topics)].filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 30000 });
  });
}

export interface TopicRecord {
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer;
  headers: KafkaJS.IHeaders | undefined;
  timestamp: string;
}

/**
 * Every committed record of a topic (read_committed), in partition order: stops once each partition's last record
 * reached the end offset read at the start (the topic is expected to be complete). A transactional topic ends with
 * a commit marker that no consumer is handed: a partition one short of its end counts as done after a quiet second.
 */
export async function readWholeTopic(kafka: Kafka, topic: string): Promise<TopicRecord[]> {
  const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const remaining = new Map(ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  const records: TopicRecord[] = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-reader-${randomUUID()}`, readUncommitted: false, fromBeginning: true, autoCommit: false, maxBytes: 64 << 20, maxBytesPerPartition: 16 << 20 },
    'js.consumer.max.batch.size': -1,
  });
  const reached = new Map<number, number>();
  let lastBatchAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        lastBatchAt = Date.now();
        reached.set(batch.partition, Number(batch.lastOffset()) + 1);
        for (const m of batch.messages) {
          records.push({ partition: batch.partition, offset: Number(m.offset), key: m.key ?? null, value: m.value ?? Buffer.alloc(0), headers: m.headers, timestamp: m.timestamp });
        }
      },
    });
    // A partition's end may sit behind transaction markers and aborted records, which are never delivered: once
    // something was read, 5 s without a batch means the rest holds nothing readable.
    const done = () =>
      [...remaining].every(([partition, end]) => (reached.get(partition) ?? -1) >= end) || (reached.size > 0 && Date.now() - lastBatchAt > 5000);
    while (!done()) await sleep(50);
  } finally {
    await consumer.disconnect();
  }
  records.sort((x, y) => x.partition - y.partition || x.offset - y.offset);
  return records;
}

/** Waits (up to 3 min) until the broker answers and, when given, MongoDB does: after someone else restarted them. */
export async function waitForServers(kafka: Kafka, mongo: MongoClient | null = null): Promise<void> {
  const deadline = Date.now() + 180000;
  for (;;) {
    try {
      await withAdmin(kafka, (admin) => admin.listTopics());
      if (mongo) await mongo.db('admin').command({ ping: 1 });
      await sleep(2000); // let a restarted broker settle (leaders, coordinators)
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await sleep(1000);
    }
  }
}

// ------------------------------------------------------------------ results

export function saveResult(name: string, result: unknown): string {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(resultsDir, `${name}-${stamp}.json`);
  writeFileSync(path, JSON.stringify(result, null, 2));
  return path;
}

/** Median of the numbers in `values` (anything else, e.g. the ceiling of a run without ceilings, is left out), or null. */
export function median(values: unknown[]): number | null {
  const sorted = values.filter((v): v is number => typeof v === 'number').sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export const fmt = (n: number | null | undefined) => (n === null || n === undefined || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US'));

/** The first line of an error's message. */
export const reasonOf = (error: unknown) => String((error as Error)?.message ?? error).split('\n')[0]!;
