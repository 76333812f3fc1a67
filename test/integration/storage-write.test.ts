// The second staging method (LOADER_STAGING=storage-write) against the BigQuery emulator's Storage Write API, with
// real loader processes: the rows it writes are the rows a load job writes (same types, same values, same typed
// views), and the write API's refusals (quota, unavailable, a stream already finalized) are retried, never counted
// as loaded. The crashes at each step are in loader.test.ts (storage-write, SIGKILL after ...).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, documentIdOf, eventIdFromResumeToken, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { typedViewNames } from '@cdc/core/gcp';
import { testKafka, waitForCommittedToEnd } from '../support/kafka.js';
import { metricValue, startService } from '../support/service-process.js';
import { createTopic } from '../support/processor.js';
import { infra } from '../support/infra.js';
import { waitFor } from '../support/wait.js';
import { startWriteApiFaultProxy } from '../support/write-api-fault-proxy.js';
import { bqRows, expectedCurrent, loaderScenario, publishFileEvents, table, testGcp, writeTestFile, type LoaderScenario } from '../support/loader.js';

const { Binary, Decimal128, Double, Int32, Long, ObjectId } = BSON;
const kafka = testKafka();
const views = typedViewNames('orders');
/** the source topic of both methods' files: their rows must be equal, kafka_topic included */
const SOURCE_TOPIC = 'shop-orders-cdc';

let seq = 0;
/** A change as the CDC service emits it; `at` its cluster time (seconds), `wallMs` its wall time (null: a snapshot's). */
function change(op: Operation, id: unknown, document: Record<string, unknown> | null, at: number, wallMs: number | null): ChangeEvent {
  seq++;
  const snapshot = op === 'snapshot';
  return {
    schema_version: 1,
    event_id: eventIdFromResumeToken(`82-sw-${seq}`),
    op,
    db: 'shop',
    coll: 'orders',
    document_id: documentIdOf({ _id: id }),
    document: document === null ? null : toCanonicalJson({ _id: id, ...document }),
    document_before: null,
    update_description: op === 'update' ? { updated_fields: toCanonicalJson({ note: `ünïcödé ${seq}` }), removed_fields: ['gone'], truncated_arrays: [] } : null,
    cluster_time: { t: at, i: seq },
    wall_time: wallMs === null ? null : new Date(wallMs).toISOString(),
    resume_token: snapshot ? null : `82-sw-${seq}`,
    source: { instance: 'cdc-0', snapshot },
  };
}

const OID = new ObjectId('64b7f0c2a1b2c3d4e5f60799');
/** Timestamps at the edges, decimals, nulls, nesting, unicode (in values, keys and ids), every op. */
function trickyEvents(): ChangeEvent[] {
  seq = 0;
  return [
    change('snapshot', new Int32(1), { total: Decimal128.fromString('1234567890123456789.012345678901234'), at: new Date(-62135596800000) }, 1, null),
    change('insert', 'clé – 東京 – 🚚', { name: '\u202Eright-to-left\u202C e\u0301 "quoted" \\ back\tslash\nnewline', tags: ['🎉', ''] }, 2, 2001),
    change('insert', OID, { nested: { a: { b: [{ c: null }, [new Int32(1), new Long(2), { d: new Double(-0) }]] } }, 'dotted.key': true, $dollar: 'x' }, 1764151872, 1764151872123),
    change('update', new Int32(1), { total: Decimal128.fromString('-0.00'), big: Long.fromString('-9223372036854775808'), nan: Decimal128.fromString('NaN') }, 1764151873, 1764151873999),
    change('update', OID, null, 1764151874, 1764151874000), // the document deleted before the lookup: no state
    change('replace', 'clé – 東京 – 🚚', { far: new Date('9999-12-31T23:59:59.999Z'), blob: new Binary(Buffer.from([0, 255, 1])), inf: Decimal128.fromString('Infinity') }, 1764151875, 0),
    change('delete', new Int32(1), null, 1764151876, 1764151876500),
    change('insert', Long.fromString('9007199254740993'), { small: new Double(5e-324), big: new Double(1.7976931348623157e308) }, 1764151877, 1764151877001),
  ];
}

async function loadWith(staging: 'load-job' | 'storage-write', events: ChangeEvent[]): Promise<LoaderScenario> {
  const s = loaderScenario(`cmp-${staging}`);
  await createTopic(kafka, s.filesTopic, 2);
  // One file, so both loaders see the documents in the same order (a typed column takes the first BSON type seen);
  // offsets past 2^32: the INT64 columns carry them.
  const files = [await writeTestFile(s.inputDir, SOURCE_TOPIC, 1, 4_294_967_296, events)];
  await publishFileEvents(kafka, s.filesTopic, files);
  const loader = await startService('loader', s.env({ LOADER_STAGING: staging }), `loader-cmp-${staging}`);
  try {
    await loader.waitReady();
    await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
    const metrics = await loader.metrics();
    assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), events.length);
    assert.equal(metricValue(metrics, 'loader_appended_rows_total'), staging === 'storage-write' ? events.length : 0);
    assert.equal(metricValue(metrics, 'loader_load_jobs_today') > 0, staging === 'load-job', 'load jobs only with load-job');
  } finally {
    await loader.kill('SIGTERM');
  }
  return s;
}

/** Rows with their BigQuery result types: integers as exact strings, timestamps as BigQuery returns them. */
async function typed(s: LoaderScenario, query: string): Promise<{ rows: unknown[]; types: Record<string, string> }> {
  const [job] = await testGcp(s.gcpConfig).bigquery.createQueryJob({ query });
  const [rows, , response] = await job.getQueryResults({ autoPaginate: false, wrapIntegers: true });
  const plain = (value: unknown): unknown => {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map(plain);
    if ('value' in value) return String((value as { value: unknown }).value);
    if (typeof (value as { toFixed?: unknown }).toFixed === 'function') return String(value);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  };
  const fields = (response?.schema?.fields ?? []) as { name?: string; type?: string; mode?: string }[];
  return { rows: (rows as unknown[]).map(plain), types: Object.fromEntries(fields.map((f) => [f.name!, `${f.mode ?? ''} ${f.type}`])) };
}

describe('storage-write staging', () => {
  test('the write API gives the changes table, the current table and the typed views exactly the rows, types and values a load job gives', async () => {
    const events = trickyEvents();
    const byLoadJob = await loadWith('load-job', events);
    const byWriteApi = await loadWith('storage-write', events);
    const queries: Record<string, (s: LoaderScenario) => string> = {
      changes: (s) => `SELECT * FROM ${table(s.gcpConfig, 'orders_changes')} ORDER BY kafka_offset`,
      current: (s) => `SELECT * EXCEPT (updated_at) FROM ${table(s.gcpConfig, 'orders_current')} ORDER BY document_id`,
      'typed current view': (s) => `SELECT * EXCEPT (_updated_at) FROM ${table(s.gcpConfig, views.current)} ORDER BY _document_id`,
      'typed history view': (s) => `SELECT * FROM ${table(s.gcpConfig, views.history)} ORDER BY _cluster_time, _cluster_time_increment`,
    };
    for (const [what, query] of Object.entries(queries)) {
      const a = await typed(byLoadJob, query(byLoadJob));
      const b = await typed(byWriteApi, query(byWriteApi));
      assert.ok(a.rows.length > 0, `${what}: rows to compare`);
      assert.deepEqual(b.types, a.types, `${what}: the same column types`);
      assert.equal(b.rows.length, a.rows.length, `${what}: as many rows`);
      a.rows.forEach((row, i) => assert.deepEqual(b.rows[i], row, `${what}: row ${i} the same`));
    }
    // and both equal the source: every event once, the newest state per document
    const changes = await bqRows(byWriteApi.gcpConfig, `SELECT event_id, document FROM ${table(byWriteApi.gcpConfig, 'orders_changes')} ORDER BY kafka_offset`);
    assert.deepEqual(changes.map((r) => [r.event_id, r.document]), events.map((e) => [e.event_id, e.document]));
    const current = await bqRows(byWriteApi.gcpConfig, `SELECT document_id, document FROM ${table(byWriteApi.gcpConfig, 'orders_current')} ORDER BY document_id`);
    const expected = [...expectedCurrent(events).values()].sort((x, y) => (x.document_id < y.document_id ? -1 : 1));
    assert.deepEqual(current.map((r) => [r.document_id, r.document]), expected.map((e) => [e.document_id, e.document]));
  });

  test('quota, unavailable and an already finalized stream are retried with a fresh staging table, never counted as loaded; then every record loads once', async () => {
    const s = loaderScenario('sw-faults');
    await createTopic(kafka, s.filesTopic, 2);
    const events = trickyEvents();
    const files = [await writeTestFile(s.inputDir, s.topic, 0, 0, events.slice(0, 4)), await writeTestFile(s.inputDir, s.topic, 1, 0, events.slice(4))];
    const proxy = await startWriteApiFaultProxy(infra.bigqueryGrpcEndpoint);
    // held until told otherwise: the group fails after its attempts, nothing counted
    proxy.failCreates = Number.MAX_SAFE_INTEGER;
    const loader = await startService('loader', s.env({ LOADER_STAGING: 'storage-write', LOADER_STORAGE_WRITE_ENDPOINT: proxy.endpoint, LOADER_RETRY_ATTEMPTS: '3' }), 'loader-sw-faults');
    try {
      await loader.waitReady();
      await publishFileEvents(kafka, s.filesTopic, files);
      const output = () => loader.output.join('\n');
      await waitFor('the group held after its attempts', () => loader.output.some((line) => /group not loaded; held and tried again/.test(line)));
      let metrics = await loader.metrics();
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'backendError' }) >= 3, output());
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 0);
      assert.deepEqual(await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`), [], 'nothing inserted');

      // Then one of each refusal within one step's attempts: the step goes on with a fresh table and stream.
      proxy.failAppends = 1;
      proxy.finalizeEarly = 1;
      proxy.failCreates = 0;
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 120000);
      metrics = await loader.metrics();
      assert.equal(proxy.refused.quota, 1);
      assert.equal(proxy.refused.finalized, 1);
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'quotaExceeded' }) >= 1, 'the quota refusal retried');
      assert.ok(metricValue(metrics, 'loader_load_failures_total', { fault: 'transient', reason: 'streamFinalized' }) >= 1, 'the finalized stream retried');
      assert.equal(metricValue(metrics, 'loader_rows_loaded_total'), events.length, 'every record inserted once');
      assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 2);
      assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), 0, 'write-API refusals never quarantine');
      const ids = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      assert.deepEqual(ids.map((r) => r.event_id).sort(), events.map((e) => e.event_id).sort());
      const [{ n }] = (await bqRows(s.gcpConfig, `SELECT COUNT(*) AS n FROM ${table(s.gcpConfig, 'orders_current')}`)) as [{ n: unknown }];
      assert.equal(Number(n), expectedCurrent(events).size);
    } finally {
      await loader.kill('SIGTERM');
      await proxy.close();
    }
  });
});
