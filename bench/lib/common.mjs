// Shared helpers of the pipeline benchmarks (bench/cdc.mjs, bench/processor.mjs): realistic orders, services started
// as real processes, process sampling from /proc, Kafka topic helpers and result files.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const resultsDir = join(repoRoot, 'bench', 'results');
export const logDir = join(repoRoot, '.run', 'bench-logs');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

/** Names unique to one run, so benchmarks share the broker and servers with tests without seeing their data. */
export function uniqueName(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

export const infra = {
  kafkaBrokers: process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? '9092'}`,
  mongoUri: process.env.MONGO_URI ?? `mongodb://127.0.0.1:${process.env.MONGO_PORT ?? '27017'}/?replicaSet=rs0`,
};

export const load = () => loadavg().map((v) => Number(v.toFixed(2)));

/** Deterministic PRNG so runs write comparable data. */
export function seeded(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A realistic order: nested customer and address, 1-5 items with Decimal128 prices, Int32 quantities, Long order
 * number, dates, tags. About 0.9 KiB as canonical Extended JSON. Its status is 'new', or with `randomStatus` a random
 * one (bench/parquet-writers.mjs).
 */
export function orderFactory(BSON, seed = 42) {
  const { Decimal128, Int32, Long, ObjectId } = BSON;
  const random = seeded(seed);
  const pick = (list) => list[Math.floor(random() * list.length)];
  const price = () => Decimal128.fromString((1 + random() * 500).toFixed(2));
  const cities = ['Zürich', 'Berlin', 'Lyon', 'Porto', 'Kraków', '東京'];
  const statuses = ['new', 'paid', 'packed', 'shipped', 'delivered', 'cancelled'];
  const baseSeconds = 1764151872;
  return {
    random,
    pick,
    statuses,
    order(n, id = new ObjectId(), { randomStatus = false } = {}) {
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
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kib('VmRSS') / 1024, hwmMiB: kib('VmHWM') / 1024 };
  } catch {
    return null;
  }
}

const clockTicks = 100; // USER_HZ on Linux
/** CPU seconds (user + system) used so far by a process, or null. */
export function cpuSecondsOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return null;
  }
}

/** The pid of the process listening on a loopback TCP port (the broker, the MongoDB server), or null. */
export function pidListeningOn(port) {
  const inodes = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const localPort = parseInt(cols[1].split(':')[1], 16);
      if (localPort === port && cols[3] === '0A') inodes.add(cols[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds;
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const target = readlinkSync(`/proc/${entry}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(target);
        if (m && inodes.has(m[1])) return Number(entry);
      } catch {
        // fd closed meanwhile
      }
    }
  }
  return null;
}

/**
 * CPU seconds used by a set of processes between start() and stop(): tells which side (service, broker, database,
 * the benchmark itself) was busy. `pids` maps a label to a pid, or to a function returning the current one (a
 * broker restarted by someone else's test gets a new pid: its share is then reported as null).
 */
export function cpuMeter(pids) {
  const resolvePid = (p) => (typeof p === 'function' ? p() : p);
  let before = null;
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
    /** CPU seconds per wall second, by label (1.0 = one core busy); null when the process was gone or replaced */
    stop() {
      const seconds = (now() - startedAt) / 1000;
      return Object.fromEntries(
        Object.entries(pids).map(([k, p]) => {
          const pid = resolvePid(p);
          const cpu = pid === null ? null : cpuSecondsOf(pid);
          const was = before[k];
          return [k, cpu === null || was.cpu === null || pid !== was.pid ? null : Number(((cpu - was.cpu) / seconds).toFixed(2))];
        }),
      );
    },
  };
}

/** Samples a process's RSS every `everyMs` until stopped; reports min / median / max and VmHWM. */
export function rssSampler(pid, everyMs = 1000) {
  const samples = [];
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
    stop() {
      take();
      clearInterval(timer);
      const med = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
      const sorted = [...samples].sort((a, b) => a - b);
      const round = (v) => (v === undefined ? null : Number(v.toFixed(1)));
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

export async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** The Node flags a service runs with everywhere: "nodeOptions" of its package.json (see the Dockerfile). */
export function nodeOptionsOf(service) {
  return JSON.parse(readFileSync(join(repoRoot, 'services', service, 'package.json'), 'utf8')).nodeOptions ?? '';
}

/**
 * Starts a service's real entrypoint (`services/<service>/dist/main.js`) as a child process; its log goes to
 * .run/bench-logs/. `nodeArgs` go before the script (e.g. --cpu-prof); `distDir` (relative to the repo root) runs
 * another build of the service, e.g. a copy of an earlier dist/ under .run/ to compare code changes.
 */
export async function startService(service, env, label, nodeArgs = [], distDir = join('services', service, 'dist')) {
  const port = await freePort();
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${label}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [...nodeArgs, resolve(repoRoot, distDir, 'main.js')], {
    // the Node flags the container image and the local stack give the service ("nodeOptions" of its package.json)
    env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(port), LOG_LEVEL: 'info', NODE_OPTIONS: nodeOptionsOf(service), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: repoRoot,
  });
  const startedAt = now();
  /** [arrival time (performance.now()), line] */
  const lines = [];
  const listeners = new Set();
  let partial = '';
  const onData = (chunk) => {
    log.write(chunk);
    const text = partial + chunk.toString();
    const parts = text.split('\n');
    partial = parts.pop();
    const at = now();
    for (const line of parts.filter(Boolean)) {
      lines.push([at, line]);
      for (const listener of listeners) listener(at, line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal)));
  void exited.then(() => log.end());
  let exitCode;
  void exited.then((code) => (exitCode = code));

  const waitForLog = (pattern, timeoutMs = 60000) =>
    new Promise((resolveLine, reject) => {
      const found = lines.find(([, line]) => pattern.test(line));
      if (found) return resolveLine({ at: found[0], line: found[1] });
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${label}: no log line matching ${pattern} within ${timeoutMs} ms (log: ${logFile})`));
      }, timeoutMs);
      const listener = (at, line) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolveLine({ at, line });
      };
      listeners.add(listener);
      void exited.then((code) => {
        if (!listeners.has(listener)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        reject(new Error(`${label} exited (${code}) while waiting for ${pattern}:\n${lines.slice(-15).map(([, l]) => l).join('\n')}`));
      });
    });

  return {
    label,
    port,
    pid: child.pid,
    child,
    logFile,
    lines,
    startedAt,
    exited,
    get exitCode() {
      return exitCode;
    },
    waitForLog,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    /** The /metrics text; retried, since a service whose event loop is busy for seconds may reset a kept-alive connection. */
    async metrics() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch (error) {
          if (attempt >= 20 || exitCode !== undefined) throw error;
          await sleep(100);
        }
      }
    },
    async waitReady(timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`${label} exited with ${exitCode} before ready:\n${lines.slice(-20).map(([, l]) => l).join('\n')}`);
        try {
          if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return now();
        } catch {
          // not listening yet
        }
        await sleep(100);
      }
      throw new Error(`${label} not ready within ${timeoutMs} ms (log: ${logFile})`);
    },
  };
}

/** Value of one sample in Prometheus text output, summed over its label sets. */
export function metricValue(text, name, label = '') {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(label)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (match && match[1] === name) total += Number(match[3]);
  }
  return total;
}

// ------------------------------------------------------------------ Kafka

export async function withAdmin(kafka, fn) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates topics and waits until each partition has a leader. */
export async function createTopics(kafka, topics, numPartitions, configEntries = []) {
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
export async function deleteTopics(kafka, topics) {
  await withAdmin(kafka, async (admin) => {
    const existing = new Set(await admin.listTopics());
    const doomed = [...new Set(topics)].filter((t) => existing.has(t));
    if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 30000 });
  });
}

/**
 * Every committed record of a topic (read_committed), in partition order: stops once each partition's last record
 * reached the end offset read at the start (the topic is expected to be complete). A transactional topic ends with
 * a commit marker that no consumer is handed: a partition one short of its end counts as done after a quiet second.
 */
export async function readWholeTopic(kafka, topic, { onBatch } = {}) {
  const { randomUUID } = await import('node:crypto');
  const ends = await withAdmin(kafka, (admin) => admin.fetchTopicOffsets(topic));
  const remaining = new Map(ends.filter((o) => Number(o.high) > Number(o.low)).map((o) => [o.partition, Number(o.high)]));
  const records = [];
  if (remaining.size === 0) return records;
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `bench-reader-${randomUUID()}`, readUncommitted: false, fromBeginning: true, autoCommit: false, maxBytes: 64 << 20, maxBytesPerPartition: 16 << 20 },
    'js.consumer.max.batch.size': -1,
  });
  const reached = new Map();
  let lastBatchAt = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachBatch: async ({ batch }) => {
        lastBatchAt = Date.now();
        reached.set(batch.partition, Number(batch.lastOffset()) + 1);
        if (onBatch) return onBatch(batch);
        for (const m of batch.messages) {
          records.push({ partition: batch.partition, offset: Number(m.offset), key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp });
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
export async function waitForServers(kafka, mongo = null) {
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

export function saveResult(name, result) {
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const path = join(resultsDir, `${name}-${stamp}.json`);
  writeFileSync(path, JSON.stringify(result, null, 2));
  return path;
}

/** Median of the numbers in `values` (anything else, e.g. the ceiling of a run without ceilings, is left out), or null. */
export function median(values) {
  const sorted = values.filter((v) => typeof v === 'number').sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export const fmt = (n) => (n === null || n === undefined || Number.isNaN(n) ? '-' : Math.round(n).toLocaleString('en-US'));
