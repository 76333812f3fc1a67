// Processor against the real Kafka broker, started as a real process: CDC envelopes in, Parquet files + file-ready
// events out, exactly once across crashes and take-overs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, statfsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { encodeChangeEvent, OPERATIONS, type Operation } from '@cdc/core';
import { infra, uniqueName } from '../support/infra.js';
import { readTopic, stallConsumer, testKafka, type Kafka } from '../support/kafka.js';
import { startPrivateKafka } from '../support/private-kafka.js';
import { metricValue, repoRoot, startService, type ServiceProcess } from '../support/service-process.js';
import {
  announcedFiles,
  assertExactlyOnce,
  createTopic,
  orderEvent,
  produce,
  readParquet,
  waitFor,
  waitForCommittedToEnd,
  type Produced,
} from '../support/processor.js';

const kafka = testKafka();

interface Scenario {
  prefix: string;
  topic: string;
  group: string;
  filesTopic: string;
  outputDir: string;
  env(extra?: Record<string, string>): Record<string, string>;
}

function scenario(name: string): Scenario {
  const prefix = uniqueName(`proc-${name}`);
  const s = {
    prefix,
    topic: `${prefix}-orders-cdc`,
    group: `${prefix}-group`,
    filesTopic: `${prefix}-files`,
    outputDir: join(repoRoot, '.run', 'test-data', prefix),
  };
  return {
    ...s,
    env: (extra = {}) => ({
      KAFKA_BROKERS: infra.kafkaBrokers,
      KAFKA_CLIENT_ID: prefix,
      KAFKA_TOPIC_PARTITIONS: '2',
      PROCESSOR_TOPICS: s.topic,
      PROCESSOR_GROUP_ID: s.group,
      PROCESSOR_FILES_TOPIC: s.filesTopic,
      PROCESSOR_OUTPUT_DIR: s.outputDir,
      PROCESSOR_BATCH_MAX_ROWS: '20',
      PROCESSOR_BATCH_MAX_AGE_MS: '400',
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      SHUTDOWN_TIMEOUT_MS: '10000',
      ...extra,
    }),
  };
}

/** `count` valid events, operations in rotation, spread round-robin over `partitions`. */
function orders(from: number, count: number, partitions: number) {
  return Array.from({ length: count }, (_, k) => {
    const n = from + k;
    const event = orderEvent(OPERATIONS[n % OPERATIONS.length]!, n);
    return { partition: n % partitions, key: event.document_id, value: encodeChangeEvent(event), event };
  });
}

/** Every *.parquet file under the output dir (relative paths): after recovery it must be exactly the announced set. */
function parquetFilesOnDisk(outputDir: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else found.push(relative(outputDir, join(dir, entry.name)));
    }
  };
  walk(outputDir);
  return found.sort();
}

/** What retention does to a partition's head: records before `offset` deleted (partition 0). */
async function deleteRecordsBefore(topic: string, offset: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: String(offset) }] });
  } finally {
    await admin.disconnect();
  }
}

async function logStart(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  return Number(offsets.find((p) => p.partition === 0)?.low ?? 0);
}

async function committedOffset(group: string, topic: string): Promise<string | undefined> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: group, topics: [topic] }).finally(() => admin.disconnect());
  return offsets[0]?.partitions.find((p) => p.partition === 0)?.offset;
}

async function stopAll(...services: (ServiceProcess | undefined)[]) {
  await Promise.all(services.map((s) => s?.kill('SIGTERM')));
}

describe('processor service', () => {
  test('a Parquet volume without room for one more batch: /readyz 503 naming it; the free space is a metric', async () => {
    const s = scenario('volume');
    await createTopic(kafka, s.topic, 1);
    mkdirSync(s.outputDir, { recursive: true });
    const stats = statfsSync(s.outputDir);
    const free = stats.bavail * stats.bsize;
    // A batch bound above the free space: the volume cannot take the next file (as a full one).
    const processor = await startService('processor', s.env({ PROCESSOR_BATCH_MAX_BYTES: String(free * 2) }), 'processor-volume');
    try {
      const unready = await waitFor('/readyz 503 naming the volume', async () => {
        const r = await processor.readiness();
        return r.status === 503 && r.reasons.volume ? r.reasons.volume : null;
      }, 60000);
      assert.match(unready, /^volume of .* full: \d+ MiB free, below \d+ MiB$/);
      const metrics = await processor.metrics();
      assert.ok(metricValue(metrics, 'processor_volume_free_bytes') > 0);
      assert.equal(metricValue(metrics, 'processor_not_ready', { check: 'volume' }), 1);
    } finally {
      await stopAll(processor);
    }
  });

  test('a committed offset below the log start (records deleted by retention before processing): no consuming, what is lost logged, /readyz 503 and a metric', async () => {
    const s = scenario('expired');
    await createTopic(kafka, s.topic, 1);
    await produce(kafka, s.topic, orders(0, 5, 1));
    const first = await startService('processor', s.env(), 'processor-expired-1');
    try {
      await first.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
    } finally {
      await stopAll(first);
    }
    // While no processor runs, five more records arrive and retention deletes them.
    await produce(kafka, s.topic, orders(5, 5, 1));
    await deleteRecordsBefore(s.topic, 10);
    const processor = await startService('processor', s.env(), 'processor-expired-2');
    try {
      const reason = await waitFor('/readyz 503 naming the expired offsets', async () => {
        const r = await processor.readiness();
        return r.status === 503 && r.reasons.offsets ? r.reasons.offsets : null;
      }, 60000);
      assert.match(reason, new RegExp(`${s.topic}/0: committed 5, log starts at 10 \\(5 records gone\\)`));
      assert.equal(metricValue(await processor.metrics(), 'processor_offsets_expired_records', { topic: s.topic, partition: '0' }), 5);
      assert.equal(processor.child.exitCode, null, 'up, reporting');
      const files = await announcedFiles(kafka, s.filesTopic, 1);
      assert.ok(files.every((f) => f.last_offset < 5), 'nothing announced past the expired offset');
    } finally {
      await stopAll(processor);
    }
  });

  test('records deleted by retention while the processor runs and has not read them: it stops consuming instead of skipping; a new group starts at the log start', async () => {
    const s = scenario('expired-running');
    await createTopic(kafka, s.topic, 1);
    const produced = await produce(kafka, s.topic, orders(0, 5, 1));
    // Before the group's first start retention already deleted two records: a new group starts at the log start.
    await deleteRecordsBefore(s.topic, 2);
    const processor = await startService('processor', s.env(), 'processor-expired-running');
    try {
      await processor.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      await assertExactlyOnce(assert, s.outputDir, await announcedFiles(kafka, s.filesTopic, 1), produced.slice(2));
      // The processor stalls (SIGSTOP) while five records arrive and retention deletes them, then goes on.
      await stallConsumer(processor);
      try {
        await produce(kafka, s.topic, orders(5, 5, 1));
        await deleteRecordsBefore(s.topic, 10);
        await produce(kafka, s.topic, orders(10, 3, 1));
      } finally {
        processor.child.kill('SIGCONT');
      }
      const reason = await waitFor('/readyz 503 naming the expired offsets', async () => {
        const r = await processor.readiness();
        return r.status === 503 && r.reasons.offsets ? r.reasons.offsets : null;
      }, 60000);
      // A fetch response holding record 5 may have been on its way when the process stopped: committed 5 or 6.
      const [, committed, gone] = reason.match(new RegExp(`${s.topic}/0: committed (\\d+), log starts at 10 \\((\\d+) records gone\\)`)) ?? [];
      assert.ok(committed === '5' || committed === '6', reason);
      assert.equal(Number(gone), 10 - Number(committed));
      assert.match(reason, /--reset-offsets --to-earliest/);
      assert.ok(processor.output.some((line) => /offsets below the log start/.test(line) && /"level":"fatal"/.test(line)), 'logged as fatal');
      assert.equal(metricValue(await processor.metrics(), 'processor_offsets_expired_records', { topic: s.topic, partition: '0' }), Number(gone));
      assert.equal(processor.child.exitCode, null, 'up, reporting');
      const files = await announcedFiles(kafka, s.filesTopic, 1);
      assert.ok(files.every((f) => f.last_offset < Number(committed)), 'nothing announced past the gap (the records after it are not skipped to)');
      assert.equal(await committedOffset(s.group, s.topic), committed, 'the committed offset is left where it was');
    } finally {
      await stopAll(processor);
    }
  });

  // Real retention, not deleteRecords: a broker of the test's own checks retention every second from its start (the
  // shipped one every 5 minutes, after 30 s); the topic keeps records 3 s in segments of 0.5 s. Records the stalled
  // processor has not read expire.
  test('the topic\'s own retention deletes records while the processor is stalled: it stops consuming instead of skipping them', async () => {
    const broker = await startPrivateKafka({ 'log.retention.check.interval.ms': '1000', 'log.initial.task.delay.ms': '0' });
    const own = testKafka({ brokers: broker.brokers });
    const s = scenario('retention');
    let processor: ServiceProcess | undefined;
    try {
      await createTopic(own, s.topic, 1, { 'retention.ms': '3000', 'segment.ms': '500' });
      processor = await startService('processor', s.env({ KAFKA_BROKERS: broker.brokers }), 'processor-retention');
      await processor.waitReady();
      await produce(own, s.topic, orders(0, 2, 1));
      await waitForCommittedToEnd(own, s.group, s.topic);
      await stallConsumer(processor);
      let next = 2;
      try {
        // each record appended after segment.ms closes the segment before it, which retention may then delete
        await waitFor('retention deleting records the processor has not read', async () => {
          await produce(own, s.topic, orders(next++, 1, 1));
          return (await logStart(own, s.topic)) > 3;
        }, 120000);
      } finally {
        processor.child.kill('SIGCONT');
      }
      const reason = await waitFor('/readyz 503 naming the expired offsets', async () => {
        const res = await fetch(`http://127.0.0.1:${processor!.port}/readyz`);
        const body = (await res.json()) as { reasons?: Record<string, string> };
        return res.status === 503 && body.reasons?.offsets ? body.reasons.offsets : null;
      }, 60000);
      const [, committed, start, gone] = reason.match(new RegExp(`${s.topic}/0: committed (\\d+), log starts at (\\d+) \\((\\d+) records gone\\)`)) ?? [];
      assert.equal(committed, '2', reason);
      assert.equal(Number(gone), Number(start) - 2, reason);
      assert.equal(metricValue(await processor.metrics(), 'processor_offsets_expired_records', { topic: s.topic, partition: '0' }), Number(gone));
      const files = await announcedFiles(own, s.filesTopic, 1);
      assert.ok(files.every((f) => f.last_offset < 2), 'nothing announced past the gap');
    } finally {
      await stopAll(processor);
      await broker.remove();
    }
  });

  test('every operation type is written to Parquet with the right values and types, and announced', async () => {
    const s = scenario('ops');
    await createTopic(kafka, s.topic, 2);
    const produced = await produce(kafka, s.topic, orders(0, 25, 2));
    const processor = await startService('processor', s.env({ PROCESSOR_BATCH_MAX_ROWS: '1000', PROCESSOR_BATCH_MAX_AGE_MS: '300' }), 'processor-ops');
    try {
      await processor.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      const files = await announcedFiles(kafka, s.filesTopic, 2);
      await assertExactlyOnce(assert, s.outputDir, files, produced);
      assert.deepEqual(parquetFilesOnDisk(s.outputDir), files.map((f) => f.path).sort());

      for (const file of files) {
        assert.equal(file.schema_version, 1);
        assert.match(file.path, new RegExp(`^${s.topic}/dt=2025-11-26/${s.topic}-p${file.partition}-\\d{12}-\\d{12}\\.parquet$`));
        assert.equal(file.dead_letters, 0);
        const inFile = produced.filter((p) => p.partition === file.partition && p.offset >= file.first_offset && p.offset <= file.last_offset);
        for (const op of OPERATIONS) assert.equal(file.ops[op], inFile.filter((p) => p.event!.op === op).length, `${file.file_id} ${op} count`);
        const times = inFile.map((p) => p.event!.cluster_time.t * 1000);
        assert.equal(Date.parse(file.min_cluster_time), Math.min(...times));
        assert.equal(Date.parse(file.max_cluster_time), Math.max(...times));
        assert.ok(file.bytes > 0 && file.crc32c.length === 8);
      }

      const { rows, types } = await readParquet(
        files.map((f) => join(s.outputDir, f.path)),
        '*, epoch_us(cluster_time)::BIGINT AS cluster_us, epoch_us(wall_time)::BIGINT AS wall_us',
      );
      // timestamps: Parquet TIMESTAMP(MICROS, isAdjustedToUTC=true), which DuckDB reads as TIMESTAMP WITH TIME ZONE
      assert.deepEqual(types, {
        event_id: 'VARCHAR',
        op: 'VARCHAR',
        db: 'VARCHAR',
        coll: 'VARCHAR',
        document_id: 'VARCHAR',
        cluster_time: 'TIMESTAMP WITH TIME ZONE',
        cluster_time_increment: 'BIGINT',
        wall_time: 'TIMESTAMP WITH TIME ZONE',
        snapshot: 'BOOLEAN',
        source_instance: 'VARCHAR',
        resume_token: 'VARCHAR',
        document: 'VARCHAR',
        document_before: 'VARCHAR',
        update_description: 'VARCHAR',
        schema_version: 'INTEGER',
        kafka_topic: 'VARCHAR',
        kafka_partition: 'INTEGER',
        kafka_offset: 'BIGINT',
        cluster_us: 'BIGINT',
        wall_us: 'BIGINT',
      });
      const byPosition = new Map(produced.map((p) => [`${p.partition}:${p.offset}`, p.event!]));
      const seenOps = new Set<Operation>();
      for (const row of rows) {
        const event = byPosition.get(`${row.kafka_partition}:${row.kafka_offset}`)!;
        seenOps.add(event.op);
        assert.equal(row.event_id, event.event_id);
        assert.equal(row.op, event.op);
        assert.equal(row.db, event.db);
        assert.equal(row.coll, event.coll);
        assert.equal(row.document_id, event.document_id);
        assert.equal(row.cluster_us, BigInt(event.cluster_time.t) * 1_000_000n);
        assert.equal(row.cluster_time_increment, BigInt(event.cluster_time.i));
        assert.equal(row.wall_us, event.wall_time === null ? null : BigInt(Date.parse(event.wall_time)) * 1000n);
        assert.equal(row.snapshot, event.source.snapshot);
        assert.equal(row.source_instance, event.source.instance);
        assert.equal(row.resume_token, event.resume_token);
        assert.equal(row.document, event.document);
        assert.equal(row.document_before, event.document_before ?? null);
        assert.equal(row.update_description, event.update_description === null ? null : JSON.stringify(event.update_description));
        assert.equal(row.schema_version, 1);
        assert.equal(row.kafka_topic, s.topic);
      }
      assert.deepEqual([...seenOps].sort(), [...OPERATIONS].sort());
      // Decimal128 survives as canonical Extended JSON inside the document column.
      const insert = rows.find((r) => r.op === 'insert')!;
      assert.match(String(insert.document), /"total":\{"\$numberDecimal":"\d+\.99"\}/);
      assert.match(String(insert.document), /"price":\{"\$numberDecimal":"0\.245"\}/);

      const metrics = await processor.metrics();
      assert.equal(metricValue(metrics, 'processor_rows_written_total'), produced.length);
      assert.equal(metricValue(metrics, 'processor_files_written_total'), files.length);
      assert.equal(metricValue(metrics, 'processor_consumer_lag'), 0);
    } finally {
      await stopAll(processor);
    }
    assert.equal(await processor.exited, 0, 'SIGTERM exits cleanly');
  });

  /**
   * Phase 1 commits a first set of files on every partition; phase 2 dies at the given moment; phase 3 restarts
   * and must end with every event in exactly one announced file and no unannounced file left behind.
   */
  async function crashAndRecover(name: string, crash: (s: Scenario) => Promise<ServiceProcess>) {
    const s = scenario(name);
    await createTopic(kafka, s.topic, 2);
    const produced: Produced[] = await produce(kafka, s.topic, orders(0, 60, 2));
    const first = await startService('processor', s.env(), `processor-${name}-1`);
    try {
      await first.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
    } finally {
      await stopAll(first);
    }
    produced.push(...(await produce(kafka, s.topic, orders(60, 140, 2))));
    const crashed = await crash(s);
    const code = await crashed.exited;
    assert.equal(crashed.child.signalCode, 'SIGKILL', `phase 2 died by SIGKILL (exit ${code})`);
    const restarted = await startService('processor', s.env(), `processor-${name}-3`);
    try {
      await restarted.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      const files = await announcedFiles(kafka, s.filesTopic, 10);
      await assertExactlyOnce(assert, s.outputDir, files, produced);
      assert.deepEqual(parquetFilesOnDisk(s.outputDir), files.map((f) => f.path).sort(), 'no unannounced or temp file is left');
      return { restarted, files };
    } finally {
      await stopAll(restarted);
    }
  }

  test('SIGKILL with batches open: restart re-reads them; every event in exactly one announced file', async () => {
    await crashAndRecover('kill-open', async (s) => {
      // Batches that never close by themselves: the kill always finds them open.
      const processor = await startService('processor', s.env({ PROCESSOR_BATCH_MAX_ROWS: '100000', PROCESSOR_BATCH_MAX_AGE_MS: '600000' }), 'processor-kill-open-2');
      await processor.waitReady();
      await waitFor('open batches holding rows', async () => metricValue(await processor.metrics(), 'processor_open_batch_rows') >= 100);
      await processor.kill('SIGKILL');
      return processor;
    });
  });

  test('SIGKILL between rename and transaction: the unannounced file is removed and rewritten once', async () => {
    const { restarted } = await crashAndRecover('kill-rename', async (s) => {
      const processor = await startService('processor', s.env({ PROCESSOR_TEST_CRASH_AFTER_RENAME: '3' }), 'processor-kill-rename-2');
      return processor;
    });
    assert.ok(
      restarted.output.some((line) => /never announced/.test(line)),
      'the restarted processor found the renamed-but-unannounced file',
    );
  });

  test('SIGKILL right after the transaction: nothing is written twice', async () => {
    await crashAndRecover('kill-commit', async (s) => startService('processor', s.env({ PROCESSOR_TEST_CRASH_AFTER_COMMIT: '3' }), 'processor-kill-commit-2'));
  });

  test('two processors share the partitions: scale-out moves partitions, a SIGKILLed one is taken over, nothing is lost', async () => {
    const s = scenario('group');
    await createTopic(kafka, s.topic, 4);
    const env = s.env({ KAFKA_TOPIC_PARTITIONS: '4' });
    const assignedTo = (p: ServiceProcess) => {
      const lines = p.output.filter((line) => /joined the consumer group/.test(line));
      const last = lines.length ? (JSON.parse(lines[lines.length - 1]!) as { assignment: Record<string, number[]> }) : null;
      return last?.assignment[s.topic] ?? [];
    };
    const a = await startService('processor', { ...env, KAFKA_CLIENT_ID: `${s.prefix}-a` }, 'processor-group-a');
    let b: ServiceProcess | undefined;
    try {
      await a.waitReady();
      await waitFor('a to own all four partitions', () => assignedTo(a).length === 4);
      const produced = await produce(kafka, s.topic, orders(0, 120, 4));
      // b joins while a is busy: the rebalance takes partitions (and their open batches) away from a.
      b = await startService('processor', { ...env, KAFKA_CLIENT_ID: `${s.prefix}-b` }, 'processor-group-b');
      await b.waitReady();
      await waitFor('a and b to own two partitions each', () => assignedTo(a).length === 2 && assignedTo(b!).length === 2);
      // Produced only once the split is seen: before it, a may still own every partition and write every file.
      produced.push(...(await produce(kafka, s.topic, orders(120, 120, 4))));
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      assert.ok(metricValue(await a.metrics(), 'processor_files_written_total') > 0, 'a wrote files');
      assert.ok(metricValue(await b.metrics(), 'processor_files_written_total') > 0, 'b wrote files');

      // a dies mid-stream; b takes its partitions over after the session timeout and finishes them.
      produced.push(...(await produce(kafka, s.topic, orders(240, 120, 4))));
      await a.kill('SIGKILL');
      await waitFor('b to own all four partitions', () => assignedTo(b!).length === 4, 60000);
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      const files = await announcedFiles(kafka, s.filesTopic, 12);
      await assertExactlyOnce(assert, s.outputDir, files, produced);
      assert.ok(b.output.some((line) => /partition taken over/.test(line) && /"committed":\d+/.test(line)), 'b took over a partition with a committed offset');
    } finally {
      await stopAll(a, b);
    }
  });

  test('poison records go to the dead-letter topic with reason and original bytes; the partition moves on', async () => {
    const s = scenario('poison');
    await createTopic(kafka, s.topic, 1);
    const good = (n: number) => orders(n, 1, 1)[0]!;
    const notJson = Buffer.from([0x7b, 0x6e, 0x6f, 0xff, 0x00]); // "{no" + bytes that are not UTF-8 text
    const unknownVersion = Buffer.from(JSON.stringify({ ...orderEvent('insert', 900), schema_version: 2 }));
    const invalid = Buffer.from(JSON.stringify({ ...orderEvent('insert', 901), event_id: 'not-hex' }));
    const produced = await produce(kafka, s.topic, [
      good(0),
      { partition: 0, key: 'poison-1', value: notJson },
      good(1),
      { partition: 0, key: 'poison-2', value: unknownVersion },
      { partition: 0, key: 'poison-3', value: invalid },
      good(2),
    ]);
    const processor = await startService('processor', s.env({ PROCESSOR_BATCH_MAX_AGE_MS: '300' }), 'processor-poison');
    try {
      await processor.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      // A batch of nothing but poison: a transaction with only dead letters and the offsets.
      produced.push(...(await produce(kafka, s.topic, [{ partition: 0, key: 'poison-4', value: Buffer.from('') }])));
      await waitForCommittedToEnd(kafka, s.group, s.topic);
      produced.push(...(await produce(kafka, s.topic, [good(3)])));
      await waitForCommittedToEnd(kafka, s.group, s.topic);

      const dead = await readTopic(kafka, `${s.topic}.dlq`, { minCount: 4 });
      assert.equal(dead.length, 4);
      const byKey = new Map(dead.map((m) => [String(m.key), { value: JSON.parse(String(m.value)), headers: m.headers! }]));
      const expectReason = { 'poison-1': 'not_json', 'poison-2': 'unknown_schema_version', 'poison-3': 'invalid_envelope', 'poison-4': 'not_json' };
      for (const [key, reason] of Object.entries(expectReason)) {
        const letter = byKey.get(key);
        assert.ok(letter, `${key} dead-lettered`);
        const original = produced.find((p) => p.key === key)!;
        assert.equal(letter.value.reason, reason, key);
        assert.equal(String(letter.headers.reason), reason);
        assert.ok(letter.value.error.length > 0);
        assert.deepEqual(Buffer.from(letter.value.value_base64, 'base64'), original.value, `${key}: original bytes`);
        assert.equal(Buffer.from(letter.value.key_base64, 'base64').toString(), key);
        assert.equal(letter.value.source_topic, s.topic);
        assert.equal(letter.value.source_partition, 0);
        assert.equal(letter.value.source_offset, original.offset);
      }
      assert.match(byKey.get('poison-3')!.value.error, /event_id/);

      const files = await announcedFiles(kafka, s.filesTopic, 2);
      const goodOnes = produced.filter((p) => p.event !== null);
      await assertExactlyOnce(assert, s.outputDir, files, goodOnes);
      assert.equal(files.reduce((sum, f) => sum + f.dead_letters, 0), 3, 'poison-4 had no file: its transaction carried only the dead letter');
      const metrics = await processor.metrics();
      assert.equal(metricValue(metrics, 'processor_dead_letters_total'), 4);
      assert.equal(metricValue(metrics, 'processor_dead_letters_total', { reason: 'not_json' }), 2);
      assert.equal(metricValue(metrics, 'processor_rows_written_total'), 4);
    } finally {
      await stopAll(processor);
    }
  });
});
