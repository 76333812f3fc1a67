// The bucket path (PROCESSOR_OUTPUT / LOADER_INPUT = gs://bucket/prefix): files go from the processors to the
// loader through the Cloud Storage emulator only, no shared directory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createGcpClients, ObjectParquetStore } from '@cdc/core/gcp';
import { readTopic, testKafka } from '../support/kafka.js';
import { metricValue, startService } from '../support/service-process.js';
import { createTopic, waitForCommittedToEnd } from '../support/processor.js';
import { bqRows, loaderScenario, orderChange, publishFileEvents, table, writeTestFile, type LoaderScenario } from '../support/loader.js';

const kafka = testKafka();
const T0 = 1764151872;

/** A bucket of its own for the scenario's files (the staging bucket stays unused), and the store over its prefix. */
async function inputBucket(s: LoaderScenario, scratchDir: string): Promise<{ uri: string; store: ObjectParquetStore }> {
  const { storage } = createGcpClients(s.gcpConfig);
  const bucket = `${s.prefix}-in`;
  await storage.createBucket(bucket);
  return { uri: `gs://${bucket}/parquet`, store: new ObjectParquetStore(storage, { bucket, prefix: 'parquet/', scratchDir, resumableMinBytes: 8 << 20 }) };
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
