// A re-snapshot asked for on the ops port (POST /collections/<db.collection>/resnapshot) of a database-scope
// collection, the cdc as a real process with the shipped defaults otherwise, under a steady write load, the cdc
// SIGKILLed twice while the collection is being copied: the copy resumes after its last committed chunk (one start
// time for all its rows), every document's re-snapshot row is in Kafka once, every change once, no re-snapshot row
// carries a state older than the writes finished before the request, and the events rebuilt as the loader merges
// them (the newest cluster time wins; a snapshot row's time is taken before its scan) equal the collection; and the
// same run through the processor and the loader: in orders_changes every change and every snapshot row once,
// orders_current equal to the collection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeStreamDocument, Document } from 'mongodb';
import { ChangeEventSchema, compareClusterTime, eventIdFromResumeToken, fromCanonicalJson, toCanonicalJson, type ChangeEvent } from '@cdc/core';
import { uniqueName } from '../support/infra.js';
import { bqRows, currentByCollection, documentsOf, loaderScenario, sameDocuments, startScopeWarehouse, table } from '../support/loader.js';
import { readTopic, testKafka } from '../support/kafka.js';
import { cdcStreamEnv, scopeEnv, suiteMongo } from '../support/mongo.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { waitFor } from '../support/wait.js';

const kafka = testKafka();
const sharedMongo = suiteMongo();

interface Order {
  _id: number;
  seq: number;
}

/** What GET /collections says of a collection (the fields the tests read). */
type CollectionStatus = { collection: string; phase: string; snapshot?: { documents: number; of_estimated: number | null; filter?: string } } & {
  events: number; last_event_cluster_time: string | null; events_per_second: number; resume_point_age_seconds: number | null };

interface CollectionsAnswer {
  collections: CollectionStatus[];
}

/** The cdc's answer for one collection on GET /collections (undefined until its stream has started). */
async function statusOf(cdc: ServiceProcess, ns: string): Promise<CollectionStatus | undefined> {
  const answer = (await (await fetch(`http://127.0.0.1:${cdc.port}/collections`)).json()) as CollectionsAnswer;
  return answer.collections.find((c) => c.collection === ns);
}

const SCOPES = {
  // the default: CDC_COLLECTIONS, one stream per collection, its checkpoint holding the re-snapshot's progress
  collection: (prefix: string, db: string) => cdcStreamEnv(prefix, db, { CDC_SNAPSHOT: 'initial' }),
  database: (prefix: string, db: string) => scopeEnv(prefix, db),
};

describe('cdc: re-snapshot on demand', () => {
  for (const [scopeName, envOf] of Object.entries(SCOPES)) test(`CDC_CAPTURE_SCOPE=${scopeName}: copied again in chunks under a steady write load, SIGKILLed twice mid-copy: resumed, each row once, the current state equals the collection`, async () => {
    const seed = seedFromEnv();
    const random = seededRandom(seed);
    // the BigQuery dataset is named after the database
    const warehouse = loaderScenario(`resnap-${scopeName}`);
    const prefix = warehouse.prefix;
    const db = warehouse.dataset;
    const ns = `${db}.orders`;
    const DOCUMENTS = 20_000;
    const orders = sharedMongo().db(db).collection<Order>('orders');
    for (let from = 0; from < DOCUMENTS; from += 5000) {
      await orders.insertMany(Array.from({ length: 5000 }, (_, i) => ({ _id: from + i, seq: 0 })));
    }
    // a write of another collection, the newest when the cdc starts (its stream starts just after it)
    await sharedMongo().db(db).collection('marker').insertOne({ at: new Date() });
    const env = envOf(prefix, db);
    const pipeline = await startScopeWarehouse(warehouse, env.CDC_TOPIC_TEMPLATE!, `resnap-${scopeName}`);
    let cdc: ServiceProcess = await startService('cdc', env, 'cdc-resnap-demand');
    // every change of the collection, as the test's own stream sees it
    const truth: ChangeStreamDocument<Order>[] = [];
    const watch = orders.watch([], { maxAwaitTimeMS: 200 });
    const watching = (async () => {
      for await (const change of watch) truth.push(change);
    })().catch(() => undefined);
    let writing = true;
    let seq = 0;
    /** per document, the seq of its last write that had finished (null: deleted) */
    const finished = new Map<number, number | null>();
    // started once the initial snapshot is done, so that it holds exactly the inserted documents
    const write = async () => {
      while (writing) {
        const id = Math.floor(random() * (DOCUMENTS + 200));
        const next = ++seq;
        if (random() < 0.1) {
          await orders.deleteOne({ _id: id });
          finished.set(id, null);
        } else {
          await orders.updateOne({ _id: id }, { $set: { seq: next } }, { upsert: true });
          finished.set(id, next);
        }
      }
    };
    let writer: Promise<void> = Promise.resolve();
    const status = () => statusOf(cdc, ns);
    try {
      await Promise.all([...pipeline, cdc].map((service) => service.waitReady(120_000)));
      await waitFor('the initial snapshot done', async () => (await status())?.phase === 'streaming', 180000, 500);
      writer = write();
      await waitFor('writes streaming', () => seq > 100);
      // what the cdc shows of the collection moves with the writes
      const shown = (await waitFor('events counted', async () => ((await status())?.events ?? 0) > 0 ? status() : null, 60000, 200))!;
      const moved = await waitFor('more events counted, a later one last', async () => {
        const now = await status();
        return now && now.events > shown.events && now.last_event_cluster_time! > shown.last_event_cluster_time! ? now : null;
      }, 60000, 200);
      assert.ok(moved.events_per_second > 0, `a recent rate while writes go on: ${moved.events_per_second}/s`);
      assert.ok(moved.resume_point_age_seconds !== null && moved.resume_point_age_seconds < 120, `a recent resume point: ${moved.resume_point_age_seconds} s`);
      const rateMetric = metricValue(await cdc.metrics(), 'cdc_collection_events_per_second', { collection: ns });
      assert.ok(rateMetric > 0, `the rate as a metric, labelled by collection: ${rateMetric}`);

      const before = new Map(finished);
      const asked = await fetch(`http://127.0.0.1:${cdc.port}/collections/${encodeURIComponent(ns)}/resnapshot`, { method: 'POST' });
      assert.equal(asked.status, 202, await asked.clone().text());
      const again = await fetch(`http://127.0.0.1:${cdc.port}/collections/${encodeURIComponent(ns)}/resnapshot`, { method: 'POST' });
      assert.equal(again.status, 409, 'asked again while it runs: refused');

      let copiedAtKill = 0;
      for (let kill = 1; kill <= 2; kill++) {
        const state = await waitFor(`re-snapshot chunks committed (kill ${kill})`, async () => {
          const answer = await status();
          return answer?.phase !== 'snapshot' || (answer.snapshot?.documents ?? 0) >= copiedAtKill + 2000 ? answer : null;
        }, 180000, 50);
        assert.equal(state.phase, 'snapshot', `still copying at kill ${kill}`);
        const progress = state.snapshot!.documents;
        await cdc.kill('SIGKILL');
        copiedAtKill = progress;
        cdc = await startService('cdc', env, `cdc-resnap-demand-${kill + 1}`);
        await cdc.waitReady();
        // ready comes before the scope has read its checkpoint: wait for the collection to be listed
        const resumed = await waitFor('the collection listed after the restart', status, 60000, 100);
        assert.equal(resumed?.phase, 'snapshot', 'the re-snapshot survives the restart');
        assert.ok((resumed!.snapshot?.documents ?? 0) >= copiedAtKill, `resumed from its last chunk: ${resumed!.snapshot?.documents} >= ${copiedAtKill}`);
      }
      await waitFor('the re-snapshot done', async () => (await status())?.phase === 'streaming', 300000, 500);
      const metrics = await cdc.metrics();
      assert.ok(metricValue(metrics, 'cdc_collection_snapshot_estimated_documents', { collection: ns }) > DOCUMENTS / 2, 'the progress metric: the size');
      // the last chunk's transaction carries the count of the whole re-snapshot, across the kills
      const resnapshotRows = metricValue(metrics, 'cdc_collection_snapshot_documents', { collection: ns });
      writing = false;
      await writer;
      await orders.updateOne({ _id: 0 }, { $set: { last: true } }, { upsert: true });
      await waitFor('the last write seen', () => truth.some((c) => c.operationType === 'update' && (c.updateDescription?.updatedFields as Document | undefined)?.last === true), 60000);
      await watch.close();
      await watching;

      const documentChanges = truth.filter((c) => ['insert', 'update', 'replace', 'delete'].includes(c.operationType));
      const messages = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: documentChanges.length + DOCUMENTS + resnapshotRows, timeoutMs: 180000, quietMs: 3000 });
      const events = messages.map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));

      const streamed = events.filter((e) => e.op !== 'snapshot' && e.op !== 'snapshot_complete');
      const published = streamed.map((e) => e.event_id);
      const changed = new Set(documentChanges.map((c) => eventIdFromResumeToken((c._id as { _data: string })._data)));
      assert.deepEqual(
        { twice: published.length - new Set(published).size, missing: [...changed].filter((id) => !published.includes(id)), unknown: streamed.filter((e) => !changed.has(e.event_id)) },
        { twice: 0, missing: [], unknown: [] },
        `every change once, the stream going on through the re-snapshot and the kills (seed ${seed}; ${seq} writes)`,
      );
      const snapshots = events.filter((e) => e.op === 'snapshot');
      const starts = [...new Set(snapshots.map((e) => `${e.cluster_time.t}.${e.cluster_time.i}`))];
      assert.equal(starts.length, 2, `the initial snapshot and ONE re-snapshot start time, kept across the kills: ${starts}`);
      const resnapshotAt = snapshots.map((e) => e.cluster_time).sort(compareClusterTime).at(-1)!;
      const rows = snapshots.filter((e) => compareClusterTime(e.cluster_time, resnapshotAt) === 0);
      const ids = rows.map((e) => e.document_id);
      assert.equal(new Set(ids).size, ids.length, `each document's re-snapshot row once (seed ${seed})`);
      assert.equal(ids.length, resnapshotRows, 'as many rows as the re-snapshot counted');
      const everDeleted = new Set(documentChanges.filter((c) => c.operationType === 'delete').map((c) => toCanonicalJson((c as { documentKey: { _id: number } }).documentKey._id)));
      const present = (await orders.find({}, { projection: { _id: 1 } }).toArray()).map((d) => toCanonicalJson(d._id));
      const missing = present.filter((id) => Number(fromCanonicalJson(id)) < DOCUMENTS && !everDeleted.has(id) && !ids.includes(id));
      assert.deepEqual(missing, [], 'every document that lived through the copy has its row');

      for (const row of rows) {
        const doc = fromCanonicalJson<Order>(row.document!);
        const last = before.get(doc._id);
        if (typeof last === 'number') assert.ok(doc.seq >= last, `the row of ${doc._id} carries a state no older than the writes done before the request (${doc.seq} >= ${last})`);
      }

      // the loader's rule: the newest cluster time wins (at a tie a change beats a snapshot row), in whatever order the rows arrive
      const latest = new Map<string, ChangeEvent>();
      for (const event of events) {
        const current = latest.get(event.document_id);
        const order = current ? compareClusterTime(current.cluster_time, event.cluster_time) : -1;
        if (order < 0 || (order === 0 && current!.op === 'snapshot')) latest.set(event.document_id, event);
      }
      const rebuilt = new Map([...latest].filter(([, e]) => e.op !== 'delete').map(([id, e]) => [id, toCanonicalJson(fromCanonicalJson<Document>(e.document!))]));
      const collection = new Map((await orders.find({}, { promoteValues: false }).toArray()).map((d) => [toCanonicalJson(d._id), toCanonicalJson(d)]));
      assert.equal(rebuilt.size, collection.size, `as many current rows as documents (seed ${seed})`);
      assert.deepEqual(rebuilt, collection, `the current state equals the collection (seed ${seed})`);
      assert.equal(cdc.exitCode, undefined);

      // the same run in the warehouse: the processor and the loader ran alongside since the start
      const changesTable = table(warehouse.gcpConfig, 'orders_changes');
      const kafkaIds = [...new Set(events.filter((e) => e.op !== 'snapshot_complete').map((e) => e.event_id))];
      const loadedRows = async () =>
        Number((await bqRows(warehouse.gcpConfig, `SELECT COUNT(*) AS n FROM ${changesTable} WHERE db = '${db}' AND coll = 'orders' AND op != 'snapshot_complete'`))[0]!.n);
      const inCollection = await documentsOf(orders);
      // on a timeout the assertions below say what differs
      await waitFor(
        'every row in orders_changes and orders_current equal to the collection',
        async () => (await loadedRows()) >= kafkaIds.length && sameDocuments((await currentByCollection(warehouse, db, 'orders')).get('orders'), inCollection),
        240_000,
        2000,
      ).catch(() => undefined);
      const loaded = await bqRows(warehouse.gcpConfig, `SELECT event_id, op FROM ${changesTable} WHERE db = '${db}' AND coll = 'orders' AND op != 'snapshot_complete'`);
      const loadedIds = loaded.map((row) => String(row.event_id));
      assert.equal(loadedIds.length - new Set(loadedIds).size, 0, `no change and no snapshot row twice in orders_changes (seed ${seed})`);
      assert.deepEqual(loadedIds.sort(), kafkaIds.sort(), 'orders_changes: every change and every row of both snapshots, each chunk of the re-snapshot once');
      const resnapshotIds = new Set(rows.map((e) => e.event_id));
      assert.equal(loaded.filter((row) => resnapshotIds.has(String(row.event_id))).length, resnapshotRows, "the re-snapshot's rows in orders_changes");
      assert.deepEqual((await currentByCollection(warehouse, db, 'orders')).get('orders'), inCollection, `orders_current equals the collection: no older state written over a newer one (seed ${seed})`);
    } catch (error) {
      console.error(`re-snapshot on demand test failed with TEST_SEED=${seed}`);
      throw error;
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await watch.close().catch(() => undefined);
      await Promise.all([cdc, ...pipeline].map((service) => service.kill()));
      await sharedMongo().db(db).dropDatabase();
    }
  });

  test('CDC_CAPTURE_SCOPE=collection: a filtered re-snapshot copies only the matching documents, keeps its filter across a SIGKILL; bad filters refused', async () => {
    const prefix = uniqueName('cdc-resnap-filter');
    const db = prefix.replaceAll('-', '_');
    const ns = `${db}.orders`;
    const DOCUMENTS = 30_000;
    const orders = sharedMongo().db(db).collection<{ _id: number; status: string }>('orders');
    for (let from = 0; from < DOCUMENTS; from += 5000) {
      await orders.insertMany(Array.from({ length: 5000 }, (_, i) => ({ _id: from + i, status: (from + i) % 3 === 0 ? 'open' : 'closed' })));
    }
    const open = Math.ceil(DOCUMENTS / 3);
    const env = cdcStreamEnv(prefix, db, { CDC_SNAPSHOT: 'initial' });
    let cdc = await startService('cdc', env, 'cdc-resnap-filter');
    const ask = (body: string) => fetch(`http://127.0.0.1:${cdc.port}/collections/${encodeURIComponent(ns)}/resnapshot`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    try {
      await cdc.waitReady();
      await waitFor('the initial snapshot done', async () => (await statusOf(cdc, ns))?.phase === 'streaming', 180000, 500);
      for (const [body, why] of [
        ['{"filter": {"status": "open"', 'not JSON'],
        ['{"filter": {"$where": "this.status == \'open\'"}}', '$where'],
        ['{"filter": {"status": {"$function": {}}}}', '$function'],
        ['{"filter": "status=open"}', 'a JSON object'],
        ['{"where": {"status": "open"}}', 'unknown field'],
      ] as const) {
        const refused = await ask(body);
        assert.equal(refused.status, 400, `refused: ${body}`);
        const { error } = (await refused.json()) as { error: string };
        assert.ok(error.includes(why), `the reason names it: ${error}`);
      }
      assert.equal((await statusOf(cdc, ns))?.phase, 'streaming', 'a refused request starts nothing');
      // a write elsewhere moves the cluster time on: the copy's rows get a stamp of their own (nothing written anywhere, they would share the first snapshot's stamp and event ids, the same state)
      await sharedMongo().db(db).collection('elsewhere').insertOne({ at: new Date() });
      const asked = await ask('{"filter": {"status": "open"}}');
      assert.equal(asked.status, 202, await asked.clone().text());
      assert.equal(((await asked.json()) as { filter: string }).filter, '{"status":"open"}');

      const state = await waitFor('filtered chunks committed', async () => {
        const answer = await statusOf(cdc, ns);
        return answer?.phase !== 'snapshot' || (answer.snapshot?.documents ?? 0) >= 2000 ? answer : null;
      }, 180000, 50);
      assert.equal(state.phase, 'snapshot', 'still copying at the kill');
      assert.equal(state.snapshot?.of_estimated, open, 'the matching documents counted as its size');
      await cdc.kill('SIGKILL');
      cdc = await startService('cdc', env, 'cdc-resnap-filter-2');
      await cdc.waitReady();
      const resumed = await waitFor('the collection listed after the restart', () => statusOf(cdc, ns), 60000, 100);
      assert.equal(resumed.phase, 'snapshot', 'the re-snapshot survives the restart');
      assert.equal(resumed.snapshot?.filter, '{"status":"open"}', 'with its filter');
      await waitFor('the re-snapshot done', async () => (await statusOf(cdc, ns))?.phase === 'streaming', 300000, 500);

      const messages = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: DOCUMENTS + open, timeoutMs: 180000, quietMs: 3000 });
      const snapshots = messages.map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value)))).filter((e) => e.op === 'snapshot');
      const resnapshotAt = snapshots.map((e) => e.cluster_time).sort(compareClusterTime).at(-1)!;
      const rows = snapshots.filter((e) => compareClusterTime(e.cluster_time, resnapshotAt) === 0);
      const ids = rows.map((e) => e.document_id);
      assert.equal(snapshots.length - rows.length, DOCUMENTS, 'the initial snapshot: every document');
      assert.equal(new Set(ids).size, ids.length, "each matching document's row once across the kill");
      assert.equal(ids.length, open, 'every matching document copied');
      assert.deepEqual(rows.filter((e) => fromCanonicalJson<{ status: string }>(e.document!).status !== 'open').map((e) => e.document_id), [], 'no document outside the filter copied again');
      assert.equal(cdc.exitCode, undefined);
    } finally {
      await cdc.kill();
      await sharedMongo().db(db).dropDatabase();
    }
  });
});
