// What the benchmarks of the services (bench/cdc.mjs, bench/processor.mjs, bench/e2e.mjs) share beyond common.mjs:
// their Kafka client, their common options, the CDC's environment, timing a running service and retried rounds.
import { parseArgs } from 'node:util';
import confluent from '@confluentinc/kafka-javascript';
import { cpuMeter, infra, load, memoryOf, metricValue, now, rssSampler, sleep, waitForServers } from './common.mjs';

/** A Kafka client (the services' own: Confluent's, librdkafka underneath) for the broker of `infra`, quiet. */
export function benchKafka(clientId) {
  return new confluent.KafkaJS.Kafka({ kafkaJS: { clientId, brokers: infra.kafkaBrokers.split(','), logLevel: confluent.KafkaJS.logLevel.NOTHING } });
}

/**
 * The command line of bench/cdc.mjs and bench/processor.mjs: their `own` options plus the ones they share. Gives
 * --env A=1,B=2 as `extraEnv`, and `variants` compared on the same input (--variants
 * '[{ "name": "a", "env": {"VAR": "value"}, "nodeArgs": "--flag", "dist": "<dir>" }]', one `default` variant without).
 */
export function serviceBenchArgs(own) {
  const { values: args } = parseArgs({
    options: {
      ...own,
      partitions: { type: 'string', default: '6' },
      env: { type: 'string', default: '' },
      variants: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'node-args': { type: 'string', default: '' },
      keep: { type: 'boolean', default: false },
    },
  });
  const extraEnv = Object.fromEntries(
    args.env
      .split(',')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  const variants = args.variants ? JSON.parse(args.variants) : [{ name: 'default', env: {} }];
  for (const v of variants) v.env ??= {};
  return { args, extraEnv, variants };
}

/** The CDC service streaming `<db>.orders` into topics named after `prefix`, from "now" (no snapshot). */
export function cdcEnv(prefix, db, partitions, extra = {}) {
  return {
    MONGO_URI: infra.mongoUri,
    KAFKA_BROKERS: infra.kafkaBrokers,
    CDC_COLLECTIONS: `${db}.orders`,
    CDC_TOPIC_TEMPLATE: `${prefix}-{coll}-cdc`,
    CDC_CHECKPOINT_TOPIC: `${prefix}-checkpoints`,
    KAFKA_CLIENT_ID: prefix,
    KAFKA_TOPIC_PARTITIONS: partitions,
    CDC_SNAPSHOT: 'never',
    ...extra,
  };
}

/**
 * Times a service started by startService from its `ready` log line until its counter `metric` reaches `target`
 * `unit`s, with the CPU of the service, `pids` and the benchmark, and the service's RSS. `sample(text, count)` adds
 * fields to the row taken about once a second (`overTime`). Fails when the service exits or makes no progress for 90 s.
 * Returns the times (performance.now()) it was ready, first counted and done, and its last /metrics text.
 */
export async function timeService(service, { name, ready, metric, target, unit, pids, sample }) {
  // RSS sampled once per second from the start of the work (VmHWM still covers start-up)
  let rss = null;
  const overTime = [];
  const meter = cpuMeter({ [name]: service.pid, ...pids, bench: process.pid });
  const loadBefore = load();
  try {
    const readyAt = (await service.waitForLog(ready, 120000)).at;
    rss = rssSampler(service.pid, 1000);
    meter.start();
    let count = 0;
    let firstAt = null;
    let lastProgress = now();
    let lastSampleAt = 0;
    while (count < target) {
      if (service.exitCode !== undefined) throw new Error(`${name} exited (${service.exitCode}):\n${service.lines.slice(-15).map(([, l]) => l).join('\n')}`);
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

/**
 * Runs `runRound(r, attempt)` for rounds 0 to runs - 1. The broker and the database are shared with tests that
 * restart them: a round that fails is run again (at most twice) once they answer, each failure recorded in
 * `retries`. `afterAttempt()` runs after every attempt (clean-up).
 */
export async function runRounds(runs, runRound, { kafka, mongo = null, retries, afterAttempt }) {
  for (let r = 0; r < runs; r++) {
    for (let attempt = 0; ; attempt++) {
      try {
        await runRound(r, attempt);
        break;
      } catch (error) {
        const reason = String(error.message).split('\n')[0];
        if (attempt >= 2) throw error;
        console.error(`round ${r} failed (${reason}): waiting for the ${mongo ? 'servers' : 'broker'}, then running it again`);
        retries.push({ round: r, attempt, reason, at: new Date().toISOString() });
        await waitForServers(kafka, mongo);
      } finally {
        await afterAttempt();
      }
    }
  }
}
