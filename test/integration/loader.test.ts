// Loader against real Kafka, the Cloud Storage and BigQuery emulators, started as a real process: file-ready
// events in, every file exactly once in the changes table, the current table equal to the newest state.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { DOCUMENT_OPERATIONS, encodeChangeEvent, encodeSnapshotComplete, fileChecksums, snapshotCompleteDocumentId, snapshotCompleteEventId, type ChangeEvent, type Operation } from '@cdc/core';
import { createGcpClients, ensureWarehouse, typedColumns, typedViewStatements, warehouseNames } from '@cdc/core/gcp';
import { currentStateQuery, duplicateCountQuery } from '@cdc/loader';
import { readTopic, stallConsumer, testKafka } from '../support/kafka.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { startFaultProxy } from '../support/bigquery-fault-proxy.js';
import { startOwnerProxy } from '../support/gcs-owner-proxy.js';
import { infra } from '../support/infra.js';
import { startPrivateKafka } from '../support/private-kafka.js';
import { createTopic, produce, waitFor, waitForCommittedToEnd } from '../support/processor.js';
import {
  bqRows,
  expectedCurrent,
  gcpEnv,
  loaderScenario,
  orderChange,
  publishFileEvents,
  runCli,
  shippedGrouping,
  table,
  writeTestFile,
  type LoaderScenario,
  type WrittenTestFile,
} from '../support/loader.js';

const kafka = testKafka();
const T0 = 1764151872;

async function stopAll(...services: (ServiceProcess | undefined)[]) {
  await Promise.all(services.map((s) => s?.kill('SIGTERM')));
}

/** Three files on two source partitions: inserts, updates, a snapshot tie, a delete, a null-document update. */
async function threeFiles(s: LoaderScenario): Promise<{ files: WrittenTestFile[]; events: ChangeEvent[] }> {
  const f1 = [
    orderChange('snapshot', 1, { t: T0, i: 1 }, 1),
    orderChange('snapshot', 2, { t: T0, i: 1 }, 2),
    orderChange('insert', 3, { t: T0 + 1, i: 1 }, 3),
    orderChange('update', 1, { t: T0, i: 1 }, 4), // same instant as the snapshot row: the change wins
  ];
  const f2 = [orderChange('update', 2, { t: T0 + 2, i: 1 }, 5), orderChange('delete', 3, { t: T0 + 3, i: 1 }, 6), orderChange('insert', 4, { t: T0 + 3, i: 2 }, 7)];
  const f3 = [orderChange('replace', 1, { t: T0 + 4, i: 1 }, 8), orderChange('update', 4, { t: T0 + 5, i: 1 }, 9, { nullDocument: true })];
  const files = [
    await writeTestFile(s.inputDir, s.topic, 0, 0, f1),
    await writeTestFile(s.inputDir, s.topic, 0, 4, f2),
    await writeTestFile(s.inputDir, s.topic, 1, 0, f3),
  ];
  return { files, events: [...f1, ...f2, ...f3] };
}

/** Every expected event exactly once in the changes table; the current table equal to the expected state. */
async function assertWarehouse(s: LoaderScenario, events: ChangeEvent[], loaded: ChangeEvent[] = events) {
  const changes = await bqRows(s.gcpConfig, `SELECT event_id, kafka_partition, kafka_offset FROM ${table(s.gcpConfig, 'orders_changes')}`);
  const ids = changes.map((r) => String(r.event_id)).sort();
  assert.deepEqual(ids, loaded.map((e) => e.event_id).sort(), 'each record once in the changes table');
  const current = await bqRows(s.gcpConfig, `SELECT document_id, document, op, event_id FROM ${table(s.gcpConfig, 'orders_current')} ORDER BY document_id`);
  const expected = [...expectedCurrent(events).values()].sort((a, b) => a.document_id.localeCompare(b.document_id));
  assert.deepEqual(
    current.map((r) => ({ document_id: r.document_id, document: r.document, op: r.op, event_id: r.event_id })),
    expected.map((e) => ({ document_id: e.document_id, document: e.document, op: e.op, event_id: e.event_id })),
    'current table = newest state per document',
  );
  // The incremental MERGE agrees with the state computed from the whole changes table.
  const names = { project: s.gcpConfig.GCP_PROJECT, dataset: s.dataset, changesTable: 'orders_changes', currentTable: 'orders_current' };
  const recomputed = await bqRows(s.gcpConfig, `SELECT document_id, event_id FROM (${currentStateQuery(names)}) ORDER BY document_id`);
  assert.deepEqual(recomputed.map((r) => r.event_id), current.map((r) => r.event_id));
}

/** Nothing of the files loaded, marked, quarantined or committed: the group is held. */
async function assertHeld(s: LoaderScenario, files: WrittenTestFile[]) {
  for (const file of files) assert.ok(existsSync(file.absolutePath) && !existsSync(join(s.inputDir, 'loaded', file.event.path)), 'not marked loaded');
  assert.ok(!existsSync(join(s.inputDir, 'quarantine')), 'nothing quarantined');
  assert.deepEqual(await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`), []);
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchOffsets({ groupId: s.group, topics: [s.filesTopic] }).finally(() => admin.disconnect());
  // A group that never committed may have no entry at all for the topic.
  const committed = offsets.find((t) => t.topic === s.filesTopic)?.partitions ?? [];
  assert.ok(committed.every((p) => Number(p.offset) <= 0), 'no offset committed');
}

const namesOf = (s: LoaderScenario) => ({ project: s.gcpConfig.GCP_PROJECT, dataset: s.dataset, changesTable: 'orders_changes', currentTable: 'orders_current' });

/** Staging tables still in the dataset (left by a crashed attempt until they expire). */
async function stagingTables(s: LoaderScenario): Promise<string[]> {
  const [tables] = await createGcpClients(s.gcpConfig).bigquery.dataset(s.dataset).getTables();
  return tables.map((t) => t.id!).filter((id) => id.includes('__stage_'));
}

/**
 * A loader that kills itself at a fault-injection point while loading one group of three files from two source
 * partitions, then a clean one that groups differently (at most two files a group): every record once.
 */
async function crashAndRecover(name: string, hook: Record<string, string>, restartEnv: Record<string, string> = {}) {
  const s = loaderScenario(name);
  await createTopic(kafka, s.filesTopic, 2);
  const { files, events } = await threeFiles(s);
  await publishFileEvents(kafka, s.filesTopic, files);
  const crashed = await startService('loader', s.env({ LOADER_GROUP_WINDOW_MS: '2000', ...hook }), `loader-${name}-1`);
  await crashed.exited;
  assert.equal(crashed.child.signalCode, 'SIGKILL', 'the first loader died by its fault-injection hook');
  const restarted = await startService('loader', s.env({ LOADER_GROUP_MAX_FILES: '2', ...restartEnv }), `loader-${name}-2`);
  try {
    await restarted.waitReady();
    await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
    await assertWarehouse(s, events);
    for (const file of files) assert.ok(existsSync(join(s.inputDir, 'loaded', file.event.path)), `${file.event.path} marked loaded`);
    const metrics = await restarted.metrics();
    assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0);
    return { s, files, events, restarted, metrics };
  } finally {
    await stopAll(restarted);
  }
}

describe('loader service', () => {
  test('shipped defaults: the files of two partitions, one announced twice, load as one group (one load job, one MERGE), each record once', async () => {
    const s = loaderScenario('dup');
    await createTopic(kafka, s.filesTopic, 2);
    const { files, events } = await threeFiles(s);
    // f2 twice in a row, f1 again at the end.
    await publishFileEvents(kafka, s.filesTopic, [files[0]!, files[1]!, files[1]!, files[2]!, files[0]!]);
    const loader = await startService('loader', shippedGrouping(s.env()), 'loader-dup');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      await assertWarehouse(s, events);
      for (const file of files) {
        assert.ok(existsSync(join(s.inputDir, 'loaded', file.event.path)), `${file.event.path} marked loaded`);
        assert.ok(!existsSync(file.absolutePath));
      }
      const metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 3);
      assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), events.length);
      assert.equal(metricValue(metrics, 'loader_files_already_loaded_total'), 2, 'the repeated announcements');
      assert.equal(metricValue(metrics, 'loader_group_files_count'), 1, 'one group');
      assert.equal(metricValue(metrics, 'loader_group_files_sum'), 3, 'of three files');
      assert.equal(metricValue(metrics, 'loader_load_jobs_today'), 1, 'one load job');
      assert.equal(metricValue(metrics, 'loader_load_jobs_budget'), 1000);
      assert.equal(metricValue(metrics, 'loader_ready_to_visible_seconds_count'), 3);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0);
      assert.ok(metricValue(metrics, 'loader_freshness_seconds') > 0);
      assert.equal(metricValue(metrics, 'loader_consumer_lag'), 0);
      assert.deepEqual(await stagingTables(s), [], 'the staging table is dropped');
      assert.equal(metricValue(metrics, 'loader_direct_mode'), 0, 'staged through the bucket');
      const [objects] = await createGcpClients(s.gcpConfig).storage.bucket(s.bucket).getFiles();
      assert.deepEqual(objects.map((o) => o.name), [], 'the staged objects are deleted once their group is in both tables');
      const [dups] = await bqRows(s.gcpConfig, duplicateCountQuery(namesOf(s)));
      assert.equal(Number(dups!.duplicate_rows), 0);
    } finally {
      await stopAll(loader);
    }
    assert.equal(await loader.exited, 0, 'SIGTERM exits cleanly');
  });

  test("a dropped collection's marker applied first: a change older than it, loaded later from another partition, brings no document back", async () => {
    const s = loaderScenario('dropped');
    await createTopic(kafka, s.filesTopic, 2);
    // The marker of the drop (no events), one step after the collection's last change.
    const emptiedAt = { t: T0 + 10, i: 2 };
    const marker: ChangeEvent = {
      ...orderChange('insert', 0, emptiedAt, 0),
      event_id: snapshotCompleteEventId('shop', 'orders', 'cdc-0', emptiedAt),
      op: 'snapshot_complete',
      document_id: snapshotCompleteDocumentId('cdc-0'),
      document: encodeSnapshotComplete({ snapshot_events: 0 }),
      wall_time: null,
      resume_token: null,
      source: { instance: 'cdc-0', snapshot: true },
    };
    const first = [orderChange('insert', 1, { t: T0 + 1, i: 1 }, 1), marker];
    // Partition 1, loaded after the marker: a document inserted before the drop (no current row when the marker was
    // applied), and the first insert of the collection made again, at the marker's instant (not older).
    const late = [orderChange('insert', 2, { t: T0 + 9, i: 1 }, 2), orderChange('insert', 3, emptiedAt, 3)];
    const f1 = await writeTestFile(s.inputDir, s.topic, 0, 0, first);
    const f2 = await writeTestFile(s.inputDir, s.topic, 1, 0, late);
    const loader = await startService('loader', s.env(), 'loader-dropped');
    try {
      await loader.waitReady();
      await publishFileEvents(kafka, s.filesTopic, [f1]);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      assert.deepEqual(await bqRows(s.gcpConfig, `SELECT document_id FROM ${table(s.gcpConfig, 'orders_current')}`), [], 'document 1, older than the marker of its group, is not current');
      await publishFileEvents(kafka, s.filesTopic, [f2]);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const current = await bqRows(s.gcpConfig, `SELECT document_id, event_id FROM ${table(s.gcpConfig, 'orders_current')} ORDER BY document_id`);
      assert.deepEqual(current.map((r) => r.event_id), [late[1]!.event_id], 'only the insert not older than the drop is current');
      const changes = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')} WHERE NOT snapshot OR op = 'snapshot_complete'`);
      assert.deepEqual(changes.map((r) => String(r.event_id)).sort(), [...first, ...late].map((e) => e.event_id).sort(), 'every change kept in the changes table');
      const recomputed = await bqRows(s.gcpConfig, `SELECT event_id FROM (${currentStateQuery(namesOf(s))}) ORDER BY document_id`);
      assert.deepEqual(recomputed.map((r) => r.event_id), current.map((r) => r.event_id), 'the state computed from the changes table agrees');
    } finally {
      await stopAll(loader);
    }
  });

  test('with no retention, a file announced again after its group is recognised by its rows in the changes table', async () => {
    const s = loaderScenario('dup0');
    await createTopic(kafka, s.filesTopic, 2);
    const { files, events } = await threeFiles(s);
    await publishFileEvents(kafka, s.filesTopic, [files[0]!, files[1]!, files[2]!]);
    const loader = await startService('loader', s.env({ LOADER_LOADED_RETENTION_HOURS: '0' }), 'loader-dup0');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      await publishFileEvents(kafka, s.filesTopic, [files[1]!]);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      await assertWarehouse(s, events);
      for (const file of files) assert.ok(!existsSync(file.absolutePath) && !existsSync(join(s.inputDir, 'loaded', file.event.path)), 'removed after loading');
      const metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 3);
      assert.equal(metricValue(metrics, 'loader_files_already_loaded_total', { how: 'present' }), 1);
    } finally {
      await stopAll(loader);
    }
  });

  test('SIGKILL in the middle of a group\'s uploads: the restart loads every file once', async () => {
    const { metrics } = await crashAndRecover('kill-upload', { LOADER_TEST_CRASH_AFTER_UPLOAD: '2' });
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), 9);
    assert.equal(metricValue(metrics, 'loader_rows_already_present_total'), 0);
  });

  test('SIGKILL after the staging load: the staged rows were never inserted; the restart, grouping differently, inserts each once', async () => {
    const { s, metrics } = await crashAndRecover('kill-load', { LOADER_TEST_CRASH_AFTER_LOAD: '1' });
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), 9);
    assert.equal(metricValue(metrics, 'loader_group_files_count'), 2, 'two groups after the restart, not the crashed one');
    assert.equal((await stagingTables(s)).length, 1, "the crashed attempt's staging table is left to expire");
  });

  test('SIGKILL after the insert: the restart skips every record already in the changes table and still merges', async () => {
    const { metrics } = await crashAndRecover('kill-insert', { LOADER_TEST_CRASH_AFTER_INSERT: '1' });
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), 0, 'nothing inserted twice');
    assert.equal(metricValue(metrics, 'loader_rows_already_present_total'), 9);
  });

  test('SIGKILL after the MERGE: nothing is applied twice', async () => {
    const { metrics } = await crashAndRecover('kill-merge', { LOADER_TEST_CRASH_AFTER_MERGE: '1' });
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), 0);
    assert.equal(metricValue(metrics, 'loader_rows_already_present_total'), 9);
  });

  test('SIGKILL after marking some files of the group, before the commit: marked files are found under loaded/, the rest skip their rows', async () => {
    const { metrics } = await crashAndRecover('kill-mark', { LOADER_TEST_CRASH_AFTER_MARK: '2' });
    assert.equal(metricValue(metrics, 'loader_files_already_loaded_total', { how: 'marked' }), 2);
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), 0);
    assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 1);
  });

  // The second staging method: the same redo argument (a fresh staging table per attempt, the insert skips what is there).
  const writeApiCrashes: { point: string; hook: string; inserted: number }[] = [
    { point: 'the append (stream not committed)', hook: 'LOADER_TEST_CRASH_AFTER_APPEND', inserted: 9 },
    { point: 'the commit', hook: 'LOADER_TEST_CRASH_AFTER_LOAD', inserted: 9 },
    { point: 'the insert', hook: 'LOADER_TEST_CRASH_AFTER_INSERT', inserted: 0 },
    { point: 'the MERGE', hook: 'LOADER_TEST_CRASH_AFTER_MERGE', inserted: 0 },
  ];
  for (const { point, hook, inserted } of writeApiCrashes) {
    test(`storage-write, SIGKILL after ${point}: the restart appends to a fresh staging table, every record once`, async () => {
      const staging = { LOADER_STAGING: 'storage-write' };
      const { s, metrics } = await crashAndRecover(`sw-${hook.slice(-6).toLowerCase()}`, { ...staging, [hook]: '1' }, staging);
      assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), inserted);
      assert.equal(metricValue(metrics, 'loader_rows_already_present_total'), 9 - inserted);
      assert.equal(metricValue(metrics, 'loader_appended_rows_total'), 9, 'the restart appended the three files again');
      assert.equal(metricValue(metrics, 'loader_load_jobs_today'), 0, 'no load job');
      const [objects] = await createGcpClients(s.gcpConfig).storage.bucket(s.bucket).getFiles();
      assert.deepEqual(objects.map((o) => o.name), [], 'nothing uploaded to the bucket');
    });
  }

  test('quota and rate-limit errors are retried with backoff and never count as loaded; when they persist past NOT_READY_AFTER_MS nothing is marked or committed and /readyz says why', async () => {
    const s = loaderScenario('quota');
    await createTopic(kafka, s.filesTopic, 2);
    const { files, events } = await threeFiles(s);
    await publishFileEvents(kafka, s.filesTopic, files);
    const proxy = await startFaultProxy(infra.bigqueryEndpoint);
    // Refused until told otherwise: the group fails after its attempts and is held for another try.
    proxy.failLoads = Number.MAX_SAFE_INTEGER;
    const loader = await startService('loader', s.env({ BIGQUERY_ENDPOINT: proxy.endpoint, LOADER_RETRY_ATTEMPTS: '3', NOT_READY_AFTER_MS: '4000' }), 'loader-quota');
    try {
      // Quota errors go away by themselves: ready while they last less than NOT_READY_AFTER_MS.
      await loader.waitReady();
      await waitFor('a group failed after its attempts', () => loader.output.some((line) => /group not loaded; held and tried again/.test(line)), 60000);
      assert.ok(proxy.refused >= 3);
      assert.ok(loader.output.some((line) => /quotaExceeded/.test(line)) && loader.output.some((line) => /rateLimitExceeded/.test(line)), 'both kinds retried');
      const refusedSoFar = proxy.refused;
      let metrics = await loader.metrics();
      assert.ok(metricValue(metrics, 'loader_retries_total', { step: 'load' }) >= 2);
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'quotaExceeded' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'rateLimitExceeded' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_load_jobs_today') >= refusedSoFar - 1, 'failed load jobs count against the budget');
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 0);
      await assertHeld(s, files);
      const unready = await waitFor('/readyz 503 once loading failed longer than NOT_READY_AFTER_MS', async () => {
        const r = await loader.readiness();
        return r.status === 503 ? r : null;
      }, 30000);
      assert.match(unready.reasons.load ?? '', /^files not loaded for \d+ s \(retrying\): (quotaExceeded|rateLimitExceeded): /);
      assert.ok(metricValue(await loader.metrics(), 'loader_load_failing_seconds') >= 4);

      // The quota comes back: the held group is tried again and loads once.
      proxy.failLoads = 1;
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 120000);
      await assertWarehouse(s, events);
      for (const file of files) assert.ok(existsSync(join(s.inputDir, 'loaded', file.event.path)));
      metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), events.length);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0, 'quota errors never quarantine');
      assert.equal(metricValue(metrics, 'loader_load_failing_seconds'), 0);
      assert.equal((await loader.readiness()).status, 200, 'ready again');
      assert.ok(proxy.forwarded >= 1);
    } finally {
      await stopAll(loader);
      await proxy.close();
    }
  });

  test('a BigQuery that hangs (the first load-job request unanswered, the first insert run but its answer withheld): /readyz 503 naming the waiting step, the steps fail at their deadlines and are retried, every record once', async () => {
    const s = loaderScenario('hang');
    await createTopic(kafka, s.filesTopic, 2);
    const { files, events } = await threeFiles(s);
    const proxy = await startFaultProxy(infra.bigqueryEndpoint);
    // Deadlines longer than NOT_READY_AFTER_MS, so that readiness has a stuck step to see before the deadline fails it.
    const loader = await startService('loader', s.env({ BIGQUERY_ENDPOINT: proxy.endpoint, LOADER_REQUEST_TIMEOUT_MS: '8000', LOADER_JOB_TIMEOUT_MS: '8000', NOT_READY_AFTER_MS: '2000' }), 'loader-hang');
    try {
      await loader.waitReady();
      proxy.hangLoads = 1;
      proxy.hangStatements = { startingWith: `INSERT INTO ${table(s.gcpConfig, 'orders_changes')}`, count: 1 };
      await publishFileEvents(kafka, s.filesTopic, files);
      const stuck = await waitFor('/readyz 503 while the load job request hangs', async () => {
        const r = await loader.readiness();
        return r.status === 503 && /^step load waiting/.test(r.reasons.load ?? '') ? r : null;
      }, 60000);
      assert.match(stuck.reasons.load!, /^step load waiting on BigQuery or Cloud Storage for \d+ s$/);
      await waitFor('/readyz 503 while the insert hangs', async () => {
        const r = await loader.readiness();
        return r.status === 503 && /^step insert waiting/.test(r.reasons.load ?? '') ? r : null;
      }, 60000);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 120000);
      assert.equal(proxy.hung, 2, 'the load-job request and the insert were left unanswered');
      // The first insert committed although the loader never heard of it; the retried insert adds nothing.
      await assertWarehouse(s, events);
      const loadedGroups = loader.output.filter((line) => line.includes('"group loaded"')).map((line) => JSON.parse(line) as { rows: number; alreadyPresent: number });
      assert.deepEqual(loadedGroups.reduce((sum, g) => [sum[0]! + g.rows, sum[1]! + g.alreadyPresent], [0, 0]), [0, events.length], 'the retried insert found every record already there');
      const metrics = await loader.metrics();
      assert.ok(metricValue(metrics, 'loader_retries_total', { step: 'load' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_retries_total', { step: 'insert' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'deadline_exceeded' }) >= 2);
      await waitFor('ready again', async () => (await loader.readiness()).status === 200, 30000);
    } finally {
      await stopAll(loader);
      await proxy.close();
    }
  });

  test('permission and billing refusals are not the files\' fault: nothing quarantined or committed, /readyz 503 with the reason at once; cleared, every file loads once', async () => {
    const s = loaderScenario('denied');
    await createTopic(kafka, s.filesTopic, 2);
    const { files, events } = await threeFiles(s);
    await publishFileEvents(kafka, s.filesTopic, files);
    const proxy = await startFaultProxy(infra.bigqueryEndpoint);
    // 403 accessDenied on the request, then a job DONE with billingNotEnabled, in turn, until an operator fixes it.
    proxy.refusals = ['accessDenied', 'billingNotEnabled'];
    proxy.failLoads = Number.MAX_SAFE_INTEGER;
    const loader = await startService('loader', s.env({ BIGQUERY_ENDPOINT: proxy.endpoint }), 'loader-denied');
    try {
      // Not ready at once (the shipped NOT_READY_AFTER_MS is minutes): this fault does not go away by itself.
      const unready = await waitFor('/readyz 503 naming the refusal', async () => {
        const r = await loader.readiness();
        return r.status === 503 && r.reasons.load ? r : null;
      }, 60000);
      assert.match(unready.reasons.load!, /^files held, not loaded \(downstream fault for \d+ s, retrying\): (accessDenied|billingNotEnabled): /);
      await waitFor('the group held after its attempts', () => loader.output.some((line) => /group not loaded; held and tried again/.test(line)), 120000);
      await waitFor('both refusals seen', () => proxy.refused >= 4, 60000);
      const metrics = await loader.metrics();
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'downstream', reason: 'accessDenied' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'downstream', reason: 'billingNotEnabled' }) >= 1);
      assert.ok(metricValue(metrics, 'loader_load_failing_seconds') > 0);
      assert.equal(metricValue(metrics, 'loader_not_ready', { check: 'load' }), 1);
      // Not retried within the step: each held attempt is one load job, paced by the budget like any group.
      assert.equal(metricValue(metrics, 'loader_retries_total', { step: 'load' }), 0);
      assert.ok(metricValue(metrics, 'loader_load_jobs_today') <= proxy.refused + 1, 'one load job per attempt');
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0);
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 0);
      await assertHeld(s, files);

      // Access granted, billing enabled: the held group loads, each record once, and the loader is ready again.
      proxy.failLoads = 0;
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 120000);
      await assertWarehouse(s, events);
      for (const file of files) assert.ok(existsSync(join(s.inputDir, 'loaded', file.event.path)), `${file.event.path} marked loaded`);
      const after = await loader.metrics();
      assert.equal(metricValue(after, 'loader_files_loaded_total'), files.length);
      assert.equal(metricValue(after, 'loader_rows_loaded_total'), events.length);
      assert.equal(metricValue(after, 'loader_files_quarantined_total'), 0);
      assert.ok(!existsSync(join(s.inputDir, 'quarantine')), 'nothing quarantined');
      assert.deepEqual(await loader.readiness(), { status: 200, reasons: {} });
    } finally {
      await stopAll(loader);
      await proxy.close();
    }
  });

  test('a partition with more files in flight than a full group is paused, then resumed: every file loads once, in groups', async () => {
    const s = loaderScenario('pause');
    await createTopic(kafka, s.filesTopic, 1);
    const files: WrittenTestFile[] = [];
    const events: ChangeEvent[] = [];
    for (let k = 0; k < 7; k++) {
      const fileEvents = [orderChange('insert', 10 + k, { t: T0 + k, i: 1 }, 100 + k), orderChange('update', 10 + k, { t: T0 + k, i: 2 }, 200 + k)];
      files.push(await writeTestFile(s.inputDir, s.topic, 0, 2 * k, fileEvents));
      events.push(...fileEvents);
    }
    await publishFileEvents(kafka, s.filesTopic, files);
    // Two files a group, so at most two in flight: the one partition is paused after its first batch.
    const loader = await startService('loader', s.env({ LOADER_GROUP_MAX_FILES: '2' }), 'loader-pause');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      await assertWarehouse(s, events);
      assert.ok(loader.output.some((line) => /partition paused until more of its files are loaded/.test(line)), 'the partition was paused');
      const metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), files.length);
      assert.ok(metricValue(metrics, 'loader_group_files_count') >= 4, 'groups of at most two files');
    } finally {
      await stopAll(loader);
    }
  });

  test('processor + loader: after inserts, updates, replaces, deletes, snapshots and duplicates the current table is the final state', async () => {
    const s = loaderScenario('e2e');
    const seed = seedFromEnv();
    const random = seededRandom(seed);
    await createTopic(kafka, s.topic, 2);
    // A plausible history: a snapshot, then changes in cluster-time order; an update whose document is null is
    // always followed by the delete that explains it; a deleted order may come back.
    const events: ChangeEvent[] = [];
    let seq = 0;
    let t = T0;
    const alive = new Set<number>();
    for (let doc = 1; doc <= 6; doc++) {
      events.push(orderChange('snapshot', doc, { t: T0, i: 1 }, ++seq));
      alive.add(doc);
    }
    events.push(orderChange('update', 1, { t: T0, i: 1 }, ++seq)); // same instant as the snapshot: the change wins
    for (let k = 0; k < 80; k++) {
      t += random() < 0.5 ? 0 : 1;
      const at = () => ({ t, i: k + 2 });
      const doc = 1 + Math.floor(random() * 10);
      if (!alive.has(doc)) {
        events.push(orderChange('insert', doc, at(), ++seq));
        alive.add(doc);
        continue;
      }
      const r = random();
      const op: Operation = r < 0.45 ? 'update' : r < 0.7 ? 'replace' : 'delete';
      if (op === 'delete') {
        if (random() < 0.5) events.push(orderChange('update', doc, at(), ++seq, { nullDocument: true }));
        t++;
        events.push(orderChange('delete', doc, { t, i: k + 2 }, ++seq));
        alive.delete(doc);
      } else {
        events.push(orderChange(op, doc, at(), ++seq));
      }
    }
    const duplicated = [events[3]!, events[20]!, events[40]!];
    process.stdout.write(`# e2e seed ${seed} (replay with TEST_SEED=${seed})\n`);
    const records = [...events, ...duplicated].map((event) => ({ partition: Number(JSON.parse(event.document_id).$numberInt) % 2, key: event.document_id, value: encodeChangeEvent(event), event }));
    await produce(kafka, s.topic, records);
    const processor = await startService(
      'processor',
      {
        KAFKA_BROKERS: s.env().KAFKA_BROKERS!,
        KAFKA_CLIENT_ID: `${s.prefix}-processor`,
        KAFKA_TOPIC_PARTITIONS: '2',
        PROCESSOR_TOPICS: s.topic,
        PROCESSOR_GROUP_ID: `${s.prefix}-processor`,
        PROCESSOR_FILES_TOPIC: s.filesTopic,
        PROCESSOR_OUTPUT_DIR: s.inputDir,
        PROCESSOR_BATCH_MAX_ROWS: '9',
        PROCESSOR_BATCH_MAX_AGE_MS: '300',
      },
      'loader-e2e-processor',
    );
    const loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '2' }), 'loader-e2e');
    try {
      await processor.waitReady();
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, `${s.prefix}-processor`, s.topic, 90000);
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const [dups] = await bqRows(s.gcpConfig, duplicateCountQuery(namesOf(s)));
      assert.equal(Number(dups!.duplicate_rows), duplicated.length, 'the dedup query counts the duplicates');
      assert.deepEqual(new Set(events.map((e) => e.op)), new Set(DOCUMENT_OPERATIONS), 'every operation type occurred');
      // Every produced record once in the changes table, duplicates included; the current table unaffected by them.
      await assertWarehouse(s, events, [...events, ...duplicated]);
      const metrics = await loader.metrics();
      assert.ok(metricValue(metrics, 'loader_files_loaded_total') >= 8, 'several files per partition');
      assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), records.length);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0);
    } finally {
      await stopAll(loader, processor);
    }
  });

  test('corrupt, mismatched and missing files are quarantined and reported; the next files still load', async () => {
    const s = loaderScenario('bad');
    await createTopic(kafka, s.filesTopic, 2);
    const e = (n: number) => orderChange('insert', n, { t: T0 + n, i: 1 }, n);
    const a = await writeTestFile(s.inputDir, s.topic, 0, 0, [e(1), e(2)]);
    const b = await writeTestFile(s.inputDir, s.topic, 0, 2, [e(3), e(4)]);
    // b: truncated, announced with the checksums of the truncated bytes (the processor wrote garbage).
    truncateSync(b.absolutePath, 200);
    const truncated = await fileChecksums(b.absolutePath);
    b.event = { ...b.event, md5: truncated.md5, crc32c: truncated.crc32c, bytes: truncated.bytes };
    b.value = JSON.stringify(b.event);
    const c = await writeTestFile(s.inputDir, s.topic, 0, 4, [e(5)]);
    // d: the file on disk is not the one announced.
    const d = await writeTestFile(s.inputDir, s.topic, 1, 0, [e(6)]);
    d.value = JSON.stringify({ ...d.event, md5: a.event.md5 });
    // missing: announced, never written.
    const missingEvent = { ...d.event, file_id: `${s.topic}-p1-000000000002-000000000003`, path: d.event.path.replace('000000000000-000000000000', '000000000002-000000000003'), first_offset: 2, last_offset: 3 };
    const f = await writeTestFile(s.inputDir, s.topic, 1, 4, [e(7)]);
    await publishFileEvents(kafka, s.filesTopic, [a, b, c, { key: 'garbage', value: '{"not":"a file-ready event"}' }, d, { key: d.key, value: JSON.stringify(missingEvent) }, f]);
    const loader = await startService('loader', s.env(), 'loader-bad');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const loaded = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      assert.deepEqual(loaded.map((r) => String(r.event_id)).sort(), [e(1), e(2), e(5), e(7)].map((x) => x.event_id).sort());
      const quarantine = join(s.inputDir, 'quarantine');
      assert.ok(existsSync(join(quarantine, b.event.path)), 'the truncated file is in quarantine/');
      assert.ok(existsSync(join(quarantine, d.event.path)), 'the mismatched file is in quarantine/');
      assert.ok(existsSync(join(quarantine, `${missingEvent.path}.reason.json`)), 'the missing file has a reason note');
      const dead = await readTopic(kafka, `${s.filesTopic}.dlq`, { minCount: 4 });
      const reasons = new Map(dead.map((m) => [JSON.parse(String(m.value)).file_id ?? 'garbage', JSON.parse(String(m.value))]));
      assert.equal(reasons.get(b.event.file_id)?.reason, 'load_failed');
      assert.equal(reasons.get(d.event.file_id)?.reason, 'checksum_mismatch');
      assert.equal(reasons.get(missingEvent.file_id)?.reason, 'missing_file');
      assert.equal(reasons.get('garbage')?.reason, 'invalid_event');
      assert.equal(reasons.get(b.event.file_id)?.path, b.event.path);
      assert.ok(loader.output.some((line) => /file quarantined/.test(line) && line.includes(b.event.path)), 'logged with the file name');
      const metrics = await loader.metrics();
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 4);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total', { reason: 'load_failed' }), 1);
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 3);
    } finally {
      await stopAll(loader);
    }
  });

  test('a file-ready event as large as Kafka takes, dead-lettered, is cut to fit the dead-letter record (size and sha256 of the whole); the loader goes on', async () => {
    const s = loaderScenario('dlq-cut');
    await createTopic(kafka, s.filesTopic, 2);
    const good = await writeTestFile(s.inputDir, s.topic, 0, 0, [orderChange('insert', 1, { t: T0, i: 1 }, 1)]);
    // Not JSON, near the producer's 1,000,000-byte limit: copied whole (base64) into the dead letter, it could not be sent.
    const huge = 'x'.repeat(990_000);
    await publishFileEvents(kafka, s.filesTopic, [{ key: good.key, value: huge }, good]);
    const loader = await startService('loader', s.env(), 'loader-dlq-cut');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const [letter] = await readTopic(kafka, `${s.filesTopic}.dlq`, { minCount: 1 });
      const value = JSON.parse(String(letter!.value));
      assert.equal(value.reason, 'invalid_event');
      assert.equal(value.value_truncated, true);
      assert.equal(value.value_size, huge.length);
      const sha256 = createHash('sha256').update(huge).digest('hex');
      assert.equal(value.value_sha256, sha256);
      assert.equal(String(letter!.headers?.value_sha256), sha256);
      const kept = Buffer.from(value.value_base64, 'base64');
      assert.ok(kept.length > 500_000, `${kept.length} bytes of the event kept`);
      assert.equal(kept.toString(), huge.slice(0, kept.length));
      assert.ok(String(letter!.value).length <= 900_000);
      assert.equal(loader.child.exitCode, null, 'still running');
      const rows = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      assert.equal(rows.length, 1, 'the next file loaded');
      assert.equal(metricValue(await loader.metrics(), 'loader_files_quarantined_total', { reason: 'invalid_event' }), 1);
    } finally {
      await stopAll(loader);
    }
  });

  // on a broker of the test's own: the tests beside it keep theirs
  test('Kafka not answering for NOT_READY_AFTER_MS turns /readyz to 503 naming it; back when it answers, and files load again', async () => {
    const s = loaderScenario('kafka-down');
    const broker = await startPrivateKafka();
    const brokerKafka = testKafka({ brokers: broker.brokers });
    let loader: ServiceProcess | undefined;
    try {
      await createTopic(brokerKafka, s.filesTopic, 2);
      loader = await startService('loader', s.env({ NOT_READY_AFTER_MS: '3000', KAFKA_BROKERS: broker.brokers }), 'loader-kafka-down');
      await loader.waitReady();
      await broker.stop();
      const unready = await waitFor('/readyz 503 naming Kafka', async () => {
        const r = await loader!.readiness();
        return r.status === 503 && r.reasons.kafka ? r : null;
      }, 60000);
      assert.match(unready.reasons.kafka!, /^Kafka has not answered for \d+ s/);
      assert.equal(metricValue(await loader.metrics(), 'loader_not_ready', { check: 'kafka' }), 1);
      await broker.start();
      // The broker itself may take a minute to come back on a busy machine.
      await waitFor('/readyz 200 again', async () => (await loader!.readiness()).status === 200, 240000);
      const file = await writeTestFile(s.inputDir, s.topic, 0, 0, [orderChange('insert', 1, { t: T0, i: 1 }, 1)]);
      await publishFileEvents(brokerKafka, s.filesTopic, [file]);
      await waitForCommittedToEnd(brokerKafka, s.group, s.filesTopic, 120000);
      assert.equal((await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`)).length, 1);
    } finally {
      await stopAll(loader);
      await broker.remove();
    }
  });

  test('a committed offset below the log start (events deleted by retention before loading): the loader does not consume, says what is lost, /readyz 503 and a metric', async () => {
    const s = loaderScenario('expired');
    await createTopic(kafka, s.filesTopic, 1);
    const e = (n: number) => orderChange('insert', n, { t: T0 + n, i: 1 }, n);
    const [a, b, c] = [await writeTestFile(s.inputDir, s.topic, 0, 0, [e(1)]), await writeTestFile(s.inputDir, s.topic, 0, 1, [e(2)]), await writeTestFile(s.inputDir, s.topic, 0, 2, [e(3)])];
    await publishFileEvents(kafka, s.filesTopic, [a!]);
    const first = await startService('loader', s.env(), 'loader-expired-1');
    try {
      await first.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
    } finally {
      await stopAll(first);
    }
    // While no loader runs, two more files are announced and retention deletes their events.
    await publishFileEvents(kafka, s.filesTopic, [b!, c!]);
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.deleteTopicRecords({ topic: s.filesTopic, partitions: [{ partition: 0, offset: '3' }] });
    } finally {
      await admin.disconnect();
    }
    const loader = await startService('loader', s.env(), 'loader-expired-2');
    try {
      const unready = await waitFor('/readyz 503 naming the expired offsets', async () => {
        const r = await loader.readiness();
        return r.status === 503 && r.reasons.offsets ? r : null;
      }, 60000);
      assert.match(unready.reasons.offsets!, new RegExp(`${s.filesTopic}/0: committed 1, log starts at 3 \\(2 records gone\\)`));
      assert.match(unready.reasons.offsets!, /--reset-offsets --to-earliest/);
      assert.ok(loader.output.some((line) => /offsets below the log start/.test(line) && /"level":"fatal"/.test(line)), 'logged as fatal');
      assert.equal(metricValue(await loader.metrics(), 'loader_offsets_expired_records', { topic: s.filesTopic, partition: '0' }), 2);
      assert.match(unready.reasons.offsets!, /LOADER_MODE=poll/);
      // the files of the deleted events are named, for a poll run to load them
      assert.equal(metricValue(await loader.metrics(), 'loader_unloaded_files_on_volume'), 2);
      const listed = loader.output.find((line) => /files on the volume not loaded/.test(line)) ?? '';
      for (const file of [b!, c!]) assert.ok(listed.includes(file.event.path), `${file.event.path} named`);
      assert.equal(loader.child.exitCode, null, 'up, reporting');
      const check = kafka.admin();
      await check.connect();
      const offsets = await check.fetchOffsets({ groupId: s.group, topics: [s.filesTopic] }).finally(() => check.disconnect());
      assert.equal(offsets[0]?.partitions[0]?.offset, '1', 'the committed offset is left where it was');
    } finally {
      await stopAll(loader);
    }
  });

  test('events deleted by retention while the loader runs and has not read them: it stops consuming instead of skipping to the next file', async () => {
    const s = loaderScenario('expired-running');
    await createTopic(kafka, s.filesTopic, 1);
    const e = (n: number) => orderChange('insert', n, { t: T0 + n, i: 1 }, n);
    const files = [];
    for (let n = 0; n < 4; n++) files.push((await writeTestFile(s.inputDir, s.topic, 0, n, [e(n + 1)]))!);
    await publishFileEvents(kafka, s.filesTopic, [files[0]!]);
    const loader = await startService('loader', s.env(), 'loader-expired-running');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      // The loader stalls (SIGSTOP) while two files are announced and retention deletes their events; a third follows.
      await stallConsumer(loader);
      try {
        await publishFileEvents(kafka, s.filesTopic, [files[1]!, files[2]!]);
        const admin = kafka.admin();
        await admin.connect();
        await admin.deleteTopicRecords({ topic: s.filesTopic, partitions: [{ partition: 0, offset: '3' }] }).finally(() => admin.disconnect());
        await publishFileEvents(kafka, s.filesTopic, [files[3]!]);
      } finally {
        loader.child.kill('SIGCONT');
      }
      const unready = await waitFor('/readyz 503 naming the expired offsets', async () => {
        const r = await loader.readiness();
        return r.status === 503 && r.reasons.offsets ? r : null;
      }, 60000);
      // A fetch response holding the second event may have been on its way when the process stopped: committed 1 or 2.
      const [, committed, gone] = unready.reasons.offsets!.match(new RegExp(`${s.filesTopic}/0: committed (\\d+), log starts at 3 \\((\\d+) records gone\\)`)) ?? [];
      assert.ok(committed === '1' || committed === '2', unready.reasons.offsets);
      assert.equal(Number(gone), 3 - Number(committed));
      assert.match(unready.reasons.offsets!, /--reset-offsets --to-earliest/);
      assert.ok(loader.output.some((line) => /offsets below the log start/.test(line) && /"level":"fatal"/.test(line)), 'logged as fatal');
      assert.equal(metricValue(await loader.metrics(), 'loader_offsets_expired_records', { topic: s.filesTopic, partition: '0' }), Number(gone));
      assert.equal(loader.child.exitCode, null, 'up, reporting');
      assert.ok(!existsSync(join(s.inputDir, 'loaded', files[3]!.event.path)), 'the file announced after the gap is not loaded (not skipped to)');
      // the file of a deleted event (and the one after the gap) are named, for a poll run to load them
      const listed = await waitFor('the files not loaded named', () => loader.output.find((line) => /files on the volume not loaded/.test(line)), 30000);
      for (const file of [files[2]!, files[3]!]) assert.ok(listed.includes(file.event.path), `${file.event.path} named`);
      assert.equal(metricValue(await loader.metrics(), 'loader_unloaded_files_on_volume'), 4 - Number(committed));
      const check = kafka.admin();
      await check.connect();
      const offsets = await check.fetchOffsets({ groupId: s.group, topics: [s.filesTopic] }).finally(() => check.disconnect());
      assert.equal(offsets[0]?.partitions[0]?.offset, committed, 'the committed offset is left where it was');
    } finally {
      await stopAll(loader);
    }
  });

  test('poll mode without a bucket loads the files it finds straight from the disk', async () => {
    const s = loaderScenario('poll');
    const e = (n: number, op: Operation = 'insert') => orderChange(op, n, { t: T0 + n + (op === 'delete' ? 10 : 0), i: 1 }, op === 'delete' ? 100 + n : n);
    const first = [await writeTestFile(s.inputDir, s.topic, 0, 0, [e(1), e(2)]), await writeTestFile(s.inputDir, s.topic, 1, 0, [e(3)])];
    const loader = await startService('loader', s.env({ LOADER_MODE: 'poll', LOADER_POLL_INTERVAL_MS: '300', GCS_BUCKET: '' }), 'loader-poll');
    try {
      await loader.waitReady();
      const late = await writeTestFile(s.inputDir, s.topic, 0, 2, [e(4), e(1, 'delete')]);
      for (const file of [...first, late]) await waitFor(`${file.event.path} loaded`, () => existsSync(join(s.inputDir, 'loaded', file.event.path)), 60000);
      await assertWarehouse(s, [e(1), e(2), e(3), e(4), e(1, 'delete')]);
      assert.equal(metricValue(await loader.metrics(), 'loader_direct_mode'), 1);
    } finally {
      await stopAll(loader);
    }
  });
});

describe('gcp-utils', () => {
  test('setup twice: the second run changes nothing; a bucket name Cloud Storage would refuse stops setup and loader at start', async () => {
    const s = loaderScenario('setup');
    const first = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s));
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /bucket gs:\/\/\S+: created/);
    assert.match(first.stdout, /table \S+\.orders_changes: created \(partitioned by DAY on cluster_time, clustered by document_id\)/);
    assert.match(first.stdout, /created: bucket .*dataset .*table orders_changes, table orders_current/);
    const second = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s));
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /nothing changed/);
    assert.doesNotMatch(second.stdout, /: created/);
    const clients = createGcpClients(s.gcpConfig);
    const [metadata] = await clients.bigquery.dataset(s.dataset).table('orders_changes').getMetadata();
    assert.deepEqual(metadata.timePartitioning, { type: 'DAY', field: 'cluster_time' });
    assert.deepEqual(metadata.clustering, { fields: ['document_id'] });
    assert.ok((await clients.storage.bucket(s.bucket).exists())[0]);

    // A name Cloud Storage's rules refuse never reaches it: setup and loader stop at start naming GCS_BUCKET.
    const invalidBucket = `Refused_${s.prefix}`;
    const refused = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s, { GCS_BUCKET: invalidBucket }));
    assert.equal(refused.code, 78, refused.stderr);
    assert.match(refused.stderr, new RegExp(`GCS_BUCKET: ${invalidBucket}: must be lower-case letters`));
    const loader = await startService('loader', s.env({ GCS_BUCKET: invalidBucket }), 'loader-invalid-bucket');
    assert.equal(await loader.exited, 78);
    assert.ok(loader.output.some((line) => /GCS_BUCKET: .*must be lower-case letters/.test(line)), loader.output.join('\n'));
    assert.equal((await createGcpClients(s.gcpConfig).storage.bucket(invalidBucket.toLowerCase()).exists())[0], false);
  });

  test('a bucket owned by another project is refused: setup fails naming both projects, the loader does not start, nothing is staged', async () => {
    const s = loaderScenario('foreign');
    await createGcpClients(s.gcpConfig).storage.createBucket(s.bucket);
    const stranger = await startOwnerProxy(infra.gcsEndpoint, '424242424242');
    try {
      const setup = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s, { GCS_ENDPOINT: stranger.endpoint }));
      assert.equal(setup.code, 1, setup.stdout);
      assert.match(setup.stderr, new RegExp(`bucket gs://${s.bucket} belongs to project number 424242424242, not to ours \\(0\\): refusing`));
      assert.ok(stranger.rewritten > 0, 'the bucket metadata came through the test double');

      await createTopic(kafka, s.filesTopic, 2);
      const file = await writeTestFile(s.inputDir, s.topic, 0, 0, [orderChange('insert', 1, { t: T0, i: 1 }, 1)]);
      await publishFileEvents(kafka, s.filesTopic, [file]);
      const loader = await startService('loader', s.env({ GCS_ENDPOINT: stranger.endpoint }), 'loader-foreign');
      const code = await loader.exited;
      assert.notEqual(code, 0);
      assert.ok(loader.output.some((line) => /belongs to project number 424242424242, not to ours/.test(line)), loader.output.join('\n'));
      const [objects] = await createGcpClients(s.gcpConfig).storage.bucket(s.bucket).getFiles();
      assert.deepEqual(objects, [], 'nothing uploaded to the stranger');
      assert.ok(existsSync(file.absolutePath), 'the file waits on disk');

      // The same bucket once it is ours (GCP_PROJECT_NUMBER names the owner the double reports): accepted.
      const ours = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s, { GCS_ENDPOINT: stranger.endpoint, GCP_PROJECT_NUMBER: '424242424242' }));
      assert.equal(ours.code, 0, ours.stderr);
      assert.match(ours.stdout, new RegExp(`bucket gs://${s.bucket}: exists, ours, unchanged`));
    } finally {
      await stranger.close();
    }
  });

  test('GCS_BUCKET with {project} names the bucket after the project', async () => {
    const s = loaderScenario('named');
    const setup = await runCli('gcp-utils/dist/main.js', [], gcpEnv(s, { GCS_BUCKET: `{project}-${s.bucket}` }));
    assert.equal(setup.code, 0, setup.stderr);
    const name = `${s.gcpConfig.GCP_PROJECT}-${s.bucket}`;
    assert.match(setup.stdout, new RegExp(`bucket gs://${name}: created \\(uniform bucket-level access, public access prevented, objects deleted after 7 days\\)`));
    assert.ok((await createGcpClients(s.gcpConfig).storage.bucket(name).exists())[0]);
  });
});

describe('analysis tool', () => {
  test('answers a --query (table and JSON), a piped session, and fails on bad SQL; refuses DDL/DML unless --write', async () => {
    const s = loaderScenario('analysis');
    const clients = createGcpClients(s.gcpConfig);
    await ensureWarehouse(clients, warehouseNames(s.gcpConfig), undefined);
    const changes = table(s.gcpConfig, 'orders_changes');
    const current = table(s.gcpConfig, 'orders_current');
    await clients.bigquery.query(`INSERT INTO ${changes} (event_id, op, db, coll, document_id, cluster_time, cluster_time_increment, snapshot, source_instance, document, schema_version, kafka_topic, kafka_partition, kafka_offset)
      VALUES ('e1', 'insert', 'shop', 'orders', '{"$numberInt":"7"}', TIMESTAMP '2025-11-26 10:00:00+00', 1, FALSE, 'cdc-0', '{"status":"new"}', 1, 'orders-cdc', 0, 0),
             ('e2', 'update', 'shop', 'orders', '{"$numberInt":"7"}', TIMESTAMP '2025-11-26 11:00:00+00', 1, FALSE, 'cdc-0', '{"status":"paid"}', 1, 'orders-cdc', 0, 1),
             ('e2', 'update', 'shop', 'orders', '{"$numberInt":"7"}', TIMESTAMP '2025-11-26 11:00:00+00', 1, FALSE, 'cdc-0', '{"status":"paid"}', 1, 'orders-cdc', 0, 2)`);
    await clients.bigquery.query(`INSERT INTO ${current} (db, coll, document_id, document, op, event_id, cluster_time, cluster_time_increment, snapshot, kafka_topic, kafka_partition, kafka_offset, updated_at)
      VALUES ('shop', 'orders', '{"$numberInt":"7"}', '{"status":"paid"}', 'update', 'e2', TIMESTAMP '2025-11-26 11:00:00+00', 1, FALSE, 'orders-cdc', 0, 1, CURRENT_TIMESTAMP())`);
    // The typed views, as the loader makes them for documents with a string status.
    const views = typedViewStatements(warehouseNames(s.gcpConfig), 'orders', typedColumns([{ path: ['status'], kind: 'string' }]).columns);
    for (const statement of [views.current, views.history]) await clients.bigquery.query(statement);
    const env = gcpEnv(s);
    const cli = 'services/analysis-tool/dist/main.js';

    const query = await runCli(cli, ['--query', `SELECT op, COUNT(*) AS n FROM ${s.dataset}.orders_changes GROUP BY op ORDER BY op`], env);
    assert.equal(query.code, 0, query.stderr);
    assert.match(query.stdout, /^op +\| n\n-+-\+-+\ninsert \| 1\nupdate \| 2\n\(2 rows, (\d+ ms|[\d.]+ s)\)\n$/);

    const json = await runCli(cli, ['-e', `SELECT event_id, kafka_offset FROM ${s.dataset}.orders_changes ORDER BY kafka_offset`, '--json'], env);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), [
      { event_id: 'e1', kafka_offset: 0 },
      { event_id: 'e2', kafka_offset: 1 },
      { event_id: 'e2', kafka_offset: 2 },
    ]);

    const bad = await runCli(cli, ['-e', `SELECT no_such_column FROM ${s.dataset}.orders_changes`], env);
    assert.notEqual(bad.code, 0, 'SQL errors exit non-zero');
    assert.match(bad.stderr, /ERROR.*no_such_column/);

    const session = await runCli(cli, [], env, `\\tables\nSELECT document_id,\n  JSON_VALUE(document, '$.status') AS status\nFROM ${s.dataset}.orders_current;\n\\order-history 7\n\\order 7\n\\dups\n\\history\n\\q\nSELECT 'never run';\n`);
    assert.equal(session.code, 0, session.stderr);
    assert.match(session.stdout, new RegExp(`${s.dataset}\\.orders_changes +\\| TABLE`));
    assert.match(session.stdout, /\{"\$numberInt":"7"\} \| paid/);
    assert.match(session.stdout, /\| insert \|[\s\S]*\| update \|[\s\S]*\(2 rows/, 'history: each event once, oldest first');
    assert.match(session.stdout, /total_rows \| distinct_events \| duplicate_rows\n-+-\+-+-\+-+\n +3 \| +2 \| +1/);
    assert.match(session.stdout, /\\order-history 7/);
    assert.doesNotMatch(session.stdout, /never run/);

    // Read-only unless --write: the DROP never reaches BigQuery, the table is still there.
    const drop = await runCli(cli, ['-e', `DROP TABLE ${s.dataset}.orders_current`], env);
    assert.equal(drop.code, 1);
    assert.match(drop.stderr, /REFUSED: DROP is not a query/);
    assert.ok((await clients.bigquery.dataset(s.dataset).table('orders_current').exists())[0], 'orders_current still exists');
    const write = await runCli(cli, ['--write', '-e', `CREATE TABLE ${s.dataset}.scratch AS SELECT 1 AS x`], { ...env, ANALYSIS_MAX_BYTES_BILLED: '1000000' });
    assert.equal(write.code, 0, write.stderr);
    assert.ok((await clients.bigquery.dataset(s.dataset).table('scratch').exists())[0], 'with --write the statement ran');
  });
});
