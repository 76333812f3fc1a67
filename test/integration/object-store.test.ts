// The bucket path (PROCESSOR_OUTPUT / LOADER_INPUT = gs://bucket/prefix): files go from the processors to the
// loader through the Cloud Storage emulator only, no shared directory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeChangeEvent, type ChangeEvent, type Operation } from '@cdc/core';
import { createGcpClients, ObjectParquetStore } from '@cdc/core/gcp';
import { infra } from '../support/infra.js';
import { readTopic, testKafka } from '../support/kafka.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { announcedFiles, createTopic, produce, waitFor, waitForCommittedToEnd } from '../support/processor.js';
import { bqRows, expectedCurrent, loaderScenario, orderChange, pipelineProcessorEnv, publishFileEvents, table, writeTestFile, type LoaderScenario } from '../support/loader.js';

const kafka = testKafka();
const T0 = 1764151872;

/** A bucket of its own for the scenario's files (the staging bucket stays unused), and the store over its prefix. */
async function inputBucket(s: LoaderScenario, scratchDir: string): Promise<{ uri: string; store: ObjectParquetStore }> {
  const { storage } = createGcpClients(s.gcpConfig);
  const bucket = `${s.prefix}-in`;
  await storage.createBucket(bucket);
  return { uri: `gs://${bucket}/parquet`, store: new ObjectParquetStore(storage, { bucket, prefix: 'parquet/', scratchDir, resumableMinBytes: 8 << 20, requestTimeoutMs: 60_000, transferTimeoutMs: 900_000 }) };
}

describe('bucket path', () => {
  test('the loader loads announced objects straight from the bucket; an object replaced or deleted after its announcement is quarantined and dead-lettered with its reason, never skipped', async () => {
    const s = loaderScenario('objects');
    await createTopic(kafka, s.filesTopic, 2);
    const { uri, store } = await inputBucket(s, `${s.inputDir}-writer`);
    const e = (n: number) => orderChange('insert', n, { t: T0 + n, i: 1 }, n);
    const a = await writeTestFile(store, s.topic, 0, 0, [e(1), e(2)]);
    const replaced = await writeTestFile(store, s.topic, 0, 2, [e(3)]);
    const deleted = await writeTestFile(store, s.topic, 0, 3, [e(4)]);
    const d = await writeTestFile(store, s.topic, 1, 0, [e(5)]);
    assert.ok(a.event.generation && a.event.location === `${uri}/`, 'the event names the bucket prefix and the generation');
    await publishFileEvents(kafka, s.filesTopic, [a, replaced, deleted, d]);
    // after the announcement: one object replaced by other bytes (a new generation), one deleted
    await store.object(replaced.event.path).save('PAR1 not what was announced PAR1', { resumable: false });
    await store.remove([deleted.event.path]);
    const loader = await startService('loader', s.env({ LOADER_INPUT: uri }), 'loader-objects');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const loaded = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      assert.deepEqual(loaded.map((r) => String(r.event_id)).sort(), [e(1), e(2), e(5)].map((x) => x.event_id).sort(), 'the intact objects loaded, each record once');
      const dead = await readTopic(kafka, `${s.filesTopic}.dlq`, { minCount: 2 });
      const reasons = new Map(dead.map((m) => [JSON.parse(String(m.value)).file_id, JSON.parse(String(m.value))]));
      assert.equal(reasons.get(replaced.event.file_id)?.reason, 'object_changed');
      assert.match(String(reasons.get(replaced.event.file_id)?.error), new RegExp(`announced ${replaced.event.generation}`));
      assert.equal(reasons.get(deleted.event.file_id)?.reason, 'missing_object');
      assert.equal(await store.locate(replaced.event.path), 'quarantine', 'the replaced object is moved to quarantine/');
      assert.equal((await store.quarantineNote(deleted.event.path))?.reason, 'missing_object');
      for (const file of [a, d]) assert.equal(await store.locate(file.event.path), 'loaded', `${file.event.path} under loaded/`);
      assert.deepEqual(await store.listPending(), [], 'nothing left waiting');
      const metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total', { reason: 'object_changed' }), 1);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total', { reason: 'missing_object' }), 1);
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 2);
      assert.ok(loader.output.some((line) => /files load straight from their announced objects/.test(line)));
    } finally {
      await loader.kill('SIGTERM');
    }
  });
});

/** The changes of a seeded writer: inserts, updates, replaces and deletes of `docs` orders, cluster times increasing. */
function seededWriter(seed: number, docs: number) {
  const random = seededRandom(seed);
  const alive = new Set<number>();
  let seq = 0;
  return (count: number): ChangeEvent[] =>
    Array.from({ length: count }, () => {
      seq++;
      const doc = 1 + Math.floor(random() * docs);
      const at = { t: T0 + seq, i: 1 };
      if (!alive.has(doc)) {
        alive.add(doc);
        return orderChange('insert', doc, at, seq);
      }
      const r = random();
      const op: Operation = r < 0.5 ? 'update' : r < 0.75 ? 'replace' : 'delete';
      if (op === 'delete') alive.delete(doc);
      return orderChange(op, doc, at, seq);
    });
}

const PARTITIONS = 4;

describe('processors and loader on separate hosts, one bucket', () => {
  test('two processors and a loader sharing only Kafka and the bucket, each SIGKILLed (a processor between upload and commit, twice): every change once, the current table equal to the collection, no unannounced object left', { timeout: 15 * 60_000 }, async () => {
    const s = loaderScenario('hosts');
    const seed = seedFromEnv();
    process.stdout.write(`# two-host seed ${seed} (replay with TEST_SEED=${seed})\n`);
    await createTopic(kafka, s.topic, PARTITIONS);
    // Each "host" its own working directory; relative paths keep every local file inside it.
    const hostDir = (host: string) => {
      const dir = join(s.inputDir, host);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    const { uri, store } = await inputBucket(s, join(hostDir('test'), 'scratch'));
    const processorEnv = {
      ...pipelineProcessorEnv(s, 2),
      PROCESSOR_OUTPUT: uri,
      // the write buffer, relative: inside the host's own directory
      PROCESSOR_OUTPUT_DIR: 'buffer',
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      GCP_PROJECT: infra.bigqueryProject,
      GCS_ENDPOINT: infra.gcsEndpoint,
      SHUTDOWN_TIMEOUT_MS: '10000',
    };
    const envOf = {
      'processor-a': (hook: Record<string, string>) => ({ ...processorEnv, ...hook }),
      'processor-b': (hook: Record<string, string>) => ({ ...processorEnv, ...hook }),
      loader: (hook: Record<string, string>) => s.env({ LOADER_INPUT: uri, LOADER_INPUT_DIR: 'work', ...hook }),
    };
    type Host = keyof typeof envOf;
    const running = new Map<Host, ServiceProcess>();
    const everyProcess: ServiceProcess[] = [];
    let starts = 0;
    const start = async (host: Host, hook: Record<string, string> = {}) => {
      const service = await startService(host === 'loader' ? 'loader' : 'processor', envOf[host](hook), `${s.prefix}-${host}-${++starts}`, { cwd: hostDir(host) });
      running.set(host, service);
      everyProcess.push(service);
      return service;
    };
    const write = seededWriter(seed, 30);
    const events: ChangeEvent[] = [];
    const writeChanges = async (count: number) => {
      const batch = write(count);
      events.push(...batch);
      await produce(kafka, s.topic, batch.map((event) => ({ partition: Number(JSON.parse(event.document_id).$numberInt) % PARTITIONS, key: event.document_id, value: encodeChangeEvent(event), event })));
    };
    /** Changes keep coming until the host's process has died by its crash hook (SIGKILL of itself); then it starts again clean. */
    const untilHookKills = async (host: Host) => {
      const service = running.get(host)!;
      await waitFor(`${host} to die by its crash hook`, async () => {
        if (service.exitCode !== undefined) return true;
        await writeChanges(8);
        return false;
      }, 180_000, 500);
      assert.equal(service.exitCode, 'SIGKILL', `${host} died by its crash hook`);
      await start(host);
    };
    const killAndRestart = async (host: Host, hook: Record<string, string> = {}) => {
      await running.get(host)!.kill('SIGKILL');
      await start(host, hook);
    };
    try {
      await start('processor-a', { PROCESSOR_TEST_CRASH_AFTER_RENAME: '2' });
      await start('processor-b');
      await start('loader', { LOADER_TEST_CRASH_AFTER_LOAD: '2' });
      for (const service of running.values()) await service.waitReady(120_000);
      await writeChanges(30);
      await untilHookKills('processor-a'); // uploaded, never announced
      await writeChanges(30);
      await killAndRestart('processor-b', { PROCESSOR_TEST_CRASH_AFTER_RENAME: '1' });
      await untilHookKills('processor-b'); // the same window on the other host
      await untilHookKills('loader'); // a group loaded into its staging table, offsets not committed
      await writeChanges(30);
      await killAndRestart('loader');
      await writeChanges(30);
      await killAndRestart('processor-a');
      await writeChanges(30);
      for (const service of running.values()) await service.waitReady(120_000);

      await waitForCommittedToEnd(kafka, `${s.prefix}-processor`, s.topic, 180_000);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 180_000);
      const changes = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      const ids = changes.map((r) => String(r.event_id)).sort();
      assert.equal(ids.length, events.length, 'as many rows as changes written');
      assert.deepEqual(ids, events.map((e) => e.event_id).sort(), 'every change once in the changes table');
      const current = await bqRows(s.gcpConfig, `SELECT document_id, document, event_id FROM ${table(s.gcpConfig, 'orders_current')} ORDER BY document_id`);
      const collection = [...expectedCurrent(events).values()].sort((a, b) => a.document_id.localeCompare(b.document_id));
      assert.deepEqual(
        current.map((r) => ({ document_id: r.document_id, document: r.document, event_id: r.event_id })),
        collection.map((e) => ({ document_id: e.document_id, document: e.document, event_id: e.event_id })),
        'the current table equals the collection',
      );

      // Objects: every one announced (loaded/ holds exactly the announced files), none waiting, none quarantined.
      const announced = await announcedFiles(kafka, s.filesTopic);
      const announcedPaths = new Set(announced.map((f) => f.path));
      assert.equal(announcedPaths.size, announced.length, 'each file announced once');
      assert.deepEqual(await store.listTopic(s.topic), [], 'no object left in the input area: loaded, or removed as unannounced');
      const [objects] = await createGcpClients(s.gcpConfig).storage.bucket(store.bucketName).getFiles({ prefix: 'parquet/' });
      const names = objects.map((o) => o.name);
      const loadedObjects = names.filter((n) => n.startsWith('parquet/loaded/')).map((n) => n.slice('parquet/loaded/'.length)).sort();
      assert.deepEqual(loadedObjects, [...announcedPaths].sort(), 'the loaded objects are exactly the announced files');
      assert.deepEqual(names.filter((n) => !n.startsWith('parquet/loaded/')), [], 'nothing quarantined, nothing else');
      for (const file of announced) assert.ok((file as unknown as { generation?: string }).generation, `${file.file_id} announced with its generation`);

      // The dangerous windows were really crossed: uploads no transaction announced were found and removed.
      const removedLines = everyProcess.flatMap((p) => p.output.filter((line) => line.includes('removing files of this partition that were never announced')));
      assert.ok(removedLines.length >= 1, 'a take-over removed objects uploaded but never announced');
      const metrics = await running.get('loader')!.metrics();
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0);
    } finally {
      await Promise.all([...running.values()].map((service) => service.kill('SIGTERM')));
    }
  });
});
