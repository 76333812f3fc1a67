// Typed views against the BigQuery emulator, made by a real loader process: tricky BSON comes back with the right
// BigQuery types and values, a new field extends the view with the next file, a type drift breaks no query.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BSON, documentIdOf, eventIdFromResumeToken, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { typedViewNames } from '@cdc/core/gcp';
import { testKafka, waitForCommittedToEnd } from '../support/kafka.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { createTopic } from '../support/processor.js';
import { gcpEnv, loaderScenario, publishFileEvents, runCli, table, testGcp, writeTestFile, type LoaderScenario } from '../support/loader.js';

const { Binary, Decimal128, Double, Int32, Long, ObjectId } = BSON;
const kafka = testKafka();
const T0 = 1764151872;
const views = typedViewNames('orders');

let seq = 0;
/** A change of one order document (any shape), as the CDC service would emit it. */
function change(op: Operation, document: Record<string, unknown> & { _id: unknown }): ChangeEvent {
  seq++;
  const documentId = documentIdOf({ _id: document._id });
  return {
    schema_version: 1,
    event_id: eventIdFromResumeToken(`82-typed-${seq}`),
    op,
    db: 'shop',
    coll: 'orders',
    document_id: documentId,
    document: toCanonicalJson(document),
    document_before: null,
    update_description: null,
    cluster_time: { t: T0 + seq, i: 1 },
    wall_time: new Date((T0 + seq) * 1000).toISOString(),
    resume_token: `82-typed-${seq}`,
    source: { instance: 'cdc-0', snapshot: false },
  };
}

const ID_A = new ObjectId('64b7f0c2a1b2c3d4e5f60701');
const ID_B = new ObjectId('64b7f0c2a1b2c3d4e5f60702');
const ID_C = new ObjectId('64b7f0c2a1b2c3d4e5f60703');

/** Every tricky BSON type the views must handle. */
const orderA = {
  _id: ID_A,
  status: 'paid',
  from: 'web', // a SQL keyword as a field name
  total: Decimal128.fromString('12.50'),
  precise: Decimal128.fromString('0.0123456789'),
  qty: new Int32(2),
  big: Long.fromString('9223372036854775807'),
  weight: new Double(1.5),
  paid: true,
  moonLanding: new Date('1969-07-20T20:17:40.123Z'),
  lastMoment: new Date('9999-12-31T23:59:59.999Z'),
  customer: { name: 'Zoë – 東京 – 🚚', 'dotted.key': 'dot', address: { city: 'Basel', zip: new Int32(4051) } },
  items: [
    { sku: 'a', qty: new Int32(1), price: Decimal128.fromString('0.10') },
    { sku: 'b', qty: new Int32(3), price: Decimal128.fromString('9.99'), tags: ['x', 'y'] },
  ],
  tags: ['new', 'vip'],
  note: null,
  blob: new Binary(Buffer.from([1, 2, 3])),
};
/** Other edges: -0, 29 integer digits, fields missing (not null). */
const orderB = {
  _id: ID_B,
  status: 'new',
  total: Decimal128.fromString('-0'),
  precise: Decimal128.fromString('99999999999999999999.99'),
  qty: new Int32(-2147483648),
  big: Long.fromString('-9223372036854775808'),
  weight: new Double(-0),
  paid: false,
  items: [],
};

async function loadFile(s: LoaderScenario, partition: number, firstOffset: number, events: ChangeEvent[]) {
  const file = await writeTestFile(s.inputDir, s.topic, partition, firstOffset, events);
  await publishFileEvents(kafka, s.filesTopic, [file]);
  await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
}

/** Rows and the result schema (the BigQuery types of the columns) of a query. */
async function typedQuery(s: LoaderScenario, query: string): Promise<{ rows: Record<string, unknown>[]; types: Record<string, string> }> {
  const [job] = await testGcp(s.gcpConfig).bigquery.createQueryJob({ query });
  const [rows, , response] = await job.getQueryResults({ autoPaginate: false, wrapIntegers: true });
  const describe = (f: { name?: string; type?: string; mode?: string; fields?: unknown[] }): string => {
    const inner = f.fields ? `<${(f.fields as typeof f[]).map((c) => `${c.name} ${describe(c)}`).join(', ')}>` : '';
    const type = `${f.type}${inner}`;
    return f.mode === 'REPEATED' ? `ARRAY<${type}>` : type;
  };
  const fields = (response?.schema?.fields ?? []) as { name?: string; type?: string; mode?: string; fields?: unknown[] }[];
  return { rows: rows as Record<string, unknown>[], types: Object.fromEntries(fields.map((f) => [f.name!, describe(f)])) };
}

/** A value of a result row as text (numbers, BigQuery wrappers with a `value`, Big decimals). */
const text = (value: unknown): string | null => {
  if (value === null || value === undefined) return null;
  if (typeof value === 'object' && 'value' in value) return String((value as { value: unknown }).value);
  return String(value);
};

describe('typed views', () => {
  let s: LoaderScenario;
  let loader: ServiceProcess;

  before(async () => {
    s = loaderScenario('views');
    await createTopic(kafka, s.filesTopic, 1);
    loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '1' }), 'loader-views');
    await loader.waitReady();
    await loadFile(s, 0, 0, [change('insert', orderA), change('insert', orderB)]);
  });
  after(() => loader?.kill('SIGTERM'));

  test('tricky BSON comes back through the current-state view with BigQuery types and exact values', async () => {
    const { rows, types } = await typedQuery(s, `SELECT * EXCEPT (_document, _updated_at, _cluster_time) FROM ${table(s.gcpConfig, views.current)} ORDER BY _id`);
    assert.deepEqual(types, {
      _db: 'STRING',
      _document_id: 'STRING',
      _id: 'STRING',
      big: 'INTEGER',
      blob: 'JSON',
      customer: types.customer,
      from: 'STRING',
      items: types.items,
      lastMoment: 'TIMESTAMP',
      moonLanding: 'TIMESTAMP',
      note: 'JSON',
      paid: 'BOOLEAN',
      precise: 'BIGNUMERIC',
      qty: 'INTEGER',
      status: 'STRING',
      tags: 'ARRAY<STRING>',
      total: 'NUMERIC',
      weight: 'FLOAT',
    });
    assert.match(types.customer!, /^RECORD<address RECORD<city STRING, zip INTEGER>, dotted_key_[0-9a-f]{6} STRING, name STRING>$/);
    assert.equal(types.items, 'ARRAY<RECORD<price NUMERIC, qty INTEGER, sku STRING, tags ARRAY<STRING>>>');
    const [a, b] = rows;
    assert.equal(a!._id, ID_A.toHexString());
    assert.equal(text(a!.total), '12.5');
    assert.equal(text(a!.precise), '0.0123456789');
    assert.equal(text(a!.qty), '2');
    assert.equal(text(a!.big), '9223372036854775807');
    assert.equal(a!.weight, 1.5);
    assert.equal(a!.paid, true);
    assert.equal(a!.from, 'web');
    assert.equal(new Date(text(a!.moonLanding)!).toISOString(), '1969-07-20T20:17:40.123Z');
    assert.equal(new Date(text(a!.lastMoment)!).toISOString(), '9999-12-31T23:59:59.999Z');
    const customer = a!.customer as Record<string, unknown>;
    assert.equal(customer.name, 'Zoë – 東京 – 🚚');
    assert.equal(customer[Object.keys(customer).find((k) => k.startsWith('dotted_key'))!], 'dot');
    assert.deepEqual(customer.address && { city: (customer.address as Record<string, unknown>).city, zip: text((customer.address as Record<string, unknown>).zip) }, { city: 'Basel', zip: '4051' });
    const items = a!.items as Record<string, unknown>[];
    assert.deepEqual(items.map((i) => [i.sku, text(i.qty), text(i.price), i.tags]), [['a', '1', '0.1', []], ['b', '3', '9.99', ['x', 'y']]]);
    assert.deepEqual(a!.tags, ['new', 'vip']);
    assert.equal(text(a!.note), 'null', 'an explicit null is the JSON null');
    assert.deepEqual(JSON.parse(text(a!.blob)!), { $binary: { base64: 'AQID', subType: '00' } });

    assert.equal(text(b!.total), '0');
    assert.equal(text(b!.precise), '99999999999999999999.99');
    assert.equal(text(b!.qty), '-2147483648');
    assert.equal(text(b!.big), '-9223372036854775808');
    assert.ok(Object.is(b!.weight, -0) || b!.weight === 0);
    assert.equal(b!.paid, false);
    assert.equal(b!.note, null, 'a missing field is SQL NULL');
    assert.equal(b!.moonLanding, null);
    assert.equal(b!.customer, null, 'a missing document is NULL, not a STRUCT of NULLs');
    assert.deepEqual(b!.items, []);
  });

  test('sums and groups work on the typed columns; the history view has one row per change', async () => {
    const [sum] = (await typedQuery(s, `SELECT SUM(total) AS revenue, SUM(qty) AS qty FROM ${table(s.gcpConfig, views.current)}`)).rows;
    assert.equal(text(sum!.revenue), '12.5');
    assert.equal(text(sum!.qty), String(2 - 2147483648));
    const { rows, types } = await typedQuery(s, `SELECT _op, _event_id, status, total FROM ${table(s.gcpConfig, views.history)} ORDER BY _cluster_time`);
    assert.equal(types.total, 'NUMERIC');
    assert.deepEqual(rows.map((r) => [r._op, r.status, text(r.total)]), [['insert', 'paid', '12.5'], ['insert', 'new', '0']]);
  });

  test('a new field appears in the views after the next load', async () => {
    await loadFile(s, 0, 2, [change('update', { ...orderB, coupon: 'WELCOME10', total: Decimal128.fromString('7.25') })]);
    const { rows, types } = await typedQuery(s, `SELECT _id, coupon, total FROM ${table(s.gcpConfig, views.current)} ORDER BY _id`);
    assert.equal(types.coupon, 'STRING');
    assert.deepEqual(rows.map((r) => [r._id, r.coupon, text(r.total)]), [[ID_A.toHexString(), null, '12.5'], [ID_B.toHexString(), 'WELCOME10', '7.25']]);
    const history = await typedQuery(s, `SELECT coupon FROM ${table(s.gcpConfig, views.history)} WHERE coupon IS NOT NULL`);
    assert.equal(history.rows.length, 1);
  });

  test('a type drift breaks no query: the typed column keeps its type, a JSON column every value, the loader logs and counts it', async () => {
    await loadFile(s, 0, 3, [change('insert', { _id: ID_C, status: 'paid', total: new Double(3.25), qty: 'three' })]);
    const { rows, types } = await typedQuery(s, `SELECT status, SUM(total) AS revenue, COUNT(*) AS orders FROM ${table(s.gcpConfig, views.current)} GROUP BY status ORDER BY status`);
    assert.equal(types.revenue, 'NUMERIC');
    assert.deepEqual(rows.map((r) => [r.status, text(r.revenue), text(r.orders)]), [['new', '7.25', '1'], ['paid', '15.75', '2']]);
    const drifted = await typedQuery(s, `SELECT qty, qty_json, total_json FROM ${table(s.gcpConfig, views.current)} WHERE _id = '${ID_C.toHexString()}'`);
    assert.equal(drifted.types.qty, 'INTEGER');
    assert.equal(drifted.types.qty_json, 'JSON');
    assert.equal(drifted.rows[0]!.qty, null, 'the typed column has no value for a string');
    assert.equal(JSON.parse(text(drifted.rows[0]!.qty_json)!), 'three', '...and the JSON column has it');
    assert.deepEqual(JSON.parse(text(drifted.rows[0]!.total_json)!), { $numberDouble: '3.25' });
    const metrics = await loader.metrics();
    assert.equal(metricValue(metrics, 'loader_typed_view_type_drifts_total'), 2);
    assert.equal(metricValue(metrics, 'loader_typed_view_drifted_fields'), 2);
    assert.match(loader.output.join('\n'), /field qty has several BSON types: qty keeps the typed values, qty_json every value as JSON/);
  });

  test('the analysis tool runs the issue\'s query on the typed view with -e', async () => {
    const result = await runCli('services/analysis-tool/dist/main.js', ['-e', `SELECT status, SUM(total) AS revenue FROM ${s.dataset}.orders GROUP BY status ORDER BY status`, '--json'], gcpEnv(s));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), [{ status: 'new', revenue: '7.25' }, { status: 'paid', revenue: '15.75' }]);
    const ready = async (command: string) => {
      const run = await runCli('services/analysis-tool/dist/main.js', ['-e', command, '--json'], gcpEnv(s));
      assert.equal(run.code, 0, run.stderr);
      return JSON.parse(run.stdout) as Record<string, unknown>[];
    };
    assert.deepEqual(await ready('\\revenue 36500'), [{ day: '2025-11-26', orders: 3, revenue: '23' }]);
    const history = await ready(`\\order-history ${ID_B.toHexString()}`);
    assert.deepEqual(history.map((r) => [r._op, r.status, r.total, r.coupon]), [['insert', 'new', '0', null], ['update', 'new', '7.25', 'WELCOME10']]);
    const [current] = await ready(`\\order ${ID_C.toHexString()}`);
    assert.deepEqual([current!.status, current!.total, current!.qty, current!.qty_json], ['paid', '3.25', null, '"three"']);
  });

  test('a restarted loader converges on the recorded fields without re-creating anything it does not need', async () => {
    await loader.kill('SIGTERM');
    loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '1' }), 'loader-views-2');
    await loader.waitReady();
    await loadFile(s, 0, 4, [change('update', { _id: ID_C, status: 'shipped', total: new Double(3.25), qty: new Int32(3) })]);
    const { rows } = await typedQuery(s, `SELECT status, qty, coupon FROM ${table(s.gcpConfig, views.current)} WHERE _id = '${ID_C.toHexString()}'`);
    assert.deepEqual(rows.map((r) => [r.status, text(r.qty), r.coupon]), [['shipped', '3', null]]);
    const metrics = await loader.metrics();
    assert.equal(metricValue(metrics, 'loader_typed_view_new_fields_total'), 0, 'every field was recorded before');
    assert.equal(metricValue(metrics, 'loader_typed_view_type_drifts_total'), 0, 'known drifts are not counted again');
  });
});
