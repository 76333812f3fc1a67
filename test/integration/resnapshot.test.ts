// A history lost while the cdc was down, with deletes in the gap, through the whole pipeline as real processes
// (cdc -> Kafka -> processor -> Parquet -> loader -> BigQuery emulator) on a private stand-in whose oplog keeps 20
// entries. Restarted with CDC_ON_HISTORY_LOST=resnapshot, the cdc snapshots the collection again and ends with a
// snapshot-complete marker; once the loader has every row of that snapshot, it deletes from orders_current the
// documents the snapshot did not see, as delete rows of their own in orders_changes. The current state then
// equals the collection. The loader is killed (SIGKILL) between inserting those rows and merging them: the next
// loader finishes the job without a row twice.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { compareClusterTime, decodeSnapshotComplete, fromCanonicalJson, snapshotDeleteEventId, toCanonicalJson } from '@cdc/core';
import { cdcEnv, rolledOffOplog } from '../support/mongo.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { bqRows, loaderScenario, pipelineProcessorEnv, table, type LoaderScenario } from '../support/loader.js';
import { startPrivateMongo, type PrivateMongo } from '../support/private-mongo.js';
import { waitFor } from '../support/wait.js';

interface Order {
  _id: number;
  n: number;
  status?: string;
}

describe('re-snapshot after a lost history: the current state converges on the collection', () => {
  let s: LoaderScenario;
  let privateMongo: PrivateMongo;
  let mongo: MongoClient;
  let orders: Collection<Order>;
  let cdcSettings: Record<string, string>;
  const services: ServiceProcess[] = [];
  let loader: ServiceProcess;
  let loaderEnv: Record<string, string>;

  const current = () => bqRows(s.gcpConfig, `SELECT document_id, document FROM ${table(s.gcpConfig, 'orders_current')} ORDER BY document_id`);
  /** orders_current as the collection would read: _id -> document */
  const currentState = async () => new Map((await current()).map((row) => [String(row.document_id), String(row.document)]));
  const collectionState = async () => new Map((await orders.find().toArray()).map((doc) => [toCanonicalJson(doc._id), toCanonicalJson(doc)]));
  const idOf = (n: number) => toCanonicalJson(n);
  const sameState = (a: Map<string, string>, b: Map<string, string>) =>
    a.size === b.size && [...a].every(([id, doc]) => b.has(id) && JSON.stringify(fromCanonicalJson(doc)) === JSON.stringify(fromCanonicalJson(b.get(id)!)));

  before(async () => {
    privateMongo = await startPrivateMongo({ MONGO_OPLOG_MAX_ENTRIES: '20' });
    mongo = new MongoClient(privateMongo.uri, { serverSelectionTimeoutMS: 10000 });
    await mongo.connect();
    s = loaderScenario('resnap');
    orders = mongo.db(s.dataset).collection<Order>('orders');
    loaderEnv = s.env({ KAFKA_TOPIC_PARTITIONS: '3' });
    loader = await startService('loader', { ...loaderEnv, LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES: '1' }, 'loader-resnap-1');
    services.push(loader);
    const processor = await startService('processor', pipelineProcessorEnv(s, 3), 'processor-resnap');
    services.push(processor);
    await Promise.all([loader.waitReady(), processor.waitReady()]);
    // The shipped snapshot and history settings; the cdc's own topics, on the private stand-in.
    cdcSettings = cdcEnv(s.prefix, s.dataset, { MONGO_URI: privateMongo.uri, KAFKA_CLIENT_ID: `${s.prefix}-cdc`, CDC_SNAPSHOT: 'initial' });
  });
  after(async () => {
    for (const service of services) service.kill('SIGTERM');
    await Promise.all(services.map((service) => service.exited));
    await mongo?.close();
    await privateMongo?.stop();
  });

  test('documents deleted while the history was lost leave orders_current, as delete rows that say which snapshot removed them', async () => {
    await orders.insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i + 1, n: i + 1 })));
    const first = await startService('cdc', cdcSettings, 'cdc-resnap-1');
    services.push(first);
    await first.waitReady();
    await first.waitForLog(/change stream opened/);
    await orders.updateOne({ _id: 1 }, { $set: { status: 'streamed' } });
    await waitFor('the 10 documents in orders_current', async () => sameState(await currentState(), await collectionState()), 180_000, 2000);
    const lastToken = await waitFor('the last change in orders_changes', async () => {
      const [row] = await bqRows(s.gcpConfig, `SELECT resume_token FROM ${table(s.gcpConfig, 'orders_changes')} WHERE op = 'update'`);
      return row?.resume_token ? String(row.resume_token) : null;
    });
    await first.kill('SIGTERM');

    // While the cdc is down: deletes, an update and an insert, then enough other writes to roll the oplog past them.
    await orders.deleteMany({ _id: { $in: [2, 4, 6] } });
    await orders.updateOne({ _id: 3 }, { $set: { status: 'in the gap' } });
    await orders.insertOne({ _id: 11, n: 11 });
    const filler = mongo.db(s.dataset).collection('filler');
    for (let i = 0; i < 30; i++) await filler.insertOne({ i });
    assert.ok(await rolledOffOplog(orders as unknown as Collection<Document>, lastToken), 'the cdc\'s resume point has rolled off the oplog');

    const second = await startService('cdc', { ...cdcSettings, CDC_ON_HISTORY_LOST: 'resnapshot' }, 'cdc-resnap-2');
    services.push(second);
    await second.waitReady();
    await second.waitForLog(/resume point lost from the oplog: taking a new snapshot/, 60_000);
    await second.waitForLog(/snapshot complete/, 60_000);
    // Changes streamed after the snapshot are newer than it: an insert stays, a delete applies as any other.
    await orders.insertOne({ _id: 12, n: 12 });
    await orders.deleteOne({ _id: 5 });

    const expected = await collectionState();
    assert.deepEqual([...expected.keys()].sort(), [1, 3, 7, 8, 9, 10, 11, 12].map(idOf).sort());

    // The first loader dies once the snapshot's delete rows are in orders_changes, before they reach orders_current.
    await loader.exited;
    assert.ok(loader.output.some((line) => /LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES/.test(line)), 'killed at the fault point');
    const changes = table(s.gcpConfig, 'orders_changes');
    const deleteRows = `SELECT event_id, document_id, snapshot, source_instance, document_before, UNIX_SECONDS(cluster_time) AS t, cluster_time_increment AS i FROM ${changes} WHERE op = 'delete' AND snapshot ORDER BY document_id`;
    assert.equal((await bqRows(s.gcpConfig, deleteRows)).length, 3, 'the delete rows are inserted');
    const afterCrash = await currentState();
    assert.ok([2, 4, 6].every((n) => afterCrash.has(idOf(n))), 'not merged yet: the deleted documents are still in orders_current');
    loader = await startService('loader', loaderEnv, 'loader-resnap-2');
    services.push(loader);
    await waitFor('orders_current to equal the collection', async () => sameState(await currentState(), expected), 180_000, 2000);

    const [marker, ...moreMarkers] = await bqRows(s.gcpConfig, `SELECT UNIX_SECONDS(cluster_time) AS t, cluster_time_increment AS i, source_instance, document FROM ${changes} WHERE op = 'snapshot_complete'`);
    assert.ok(marker, 'the snapshot-complete marker is in orders_changes');
    assert.equal(moreMarkers.length, 0, 'one marker');
    const snapshotAt = { t: Number(marker.t), i: Number(marker.i) };
    assert.equal(decodeSnapshotComplete(String(marker.document)).snapshot_events, 8, 'the marker counts the 8 documents the snapshot saw (1, 3, 5, 7-11)');
    const deletes = await bqRows(s.gcpConfig, deleteRows);
    assert.deepEqual(
      deletes.map((row) => row.document_id),
      [2, 4, 6].map(idOf).sort(),
      'a delete row for each document deleted while the history was lost, and for nothing else',
    );
    for (const row of deletes) {
      assert.equal(row.source_instance, marker.source_instance, 'made by the snapshot of that cdc instance');
      assert.equal(row.event_id, snapshotDeleteEventId(s.dataset, 'orders', String(row.document_id), String(marker.source_instance), snapshotAt), 'its event id comes from the snapshot and the document');
      assert.ok(compareClusterTime({ t: Number(row.t), i: Number(row.i) }, snapshotAt) < 0, 'it stands before the snapshot');
      const removed = fromCanonicalJson(String(row.document_before)) as Order;
      assert.equal(toCanonicalJson(removed._id), row.document_id, 'the removed state is kept as document_before');
    }
    const [streamedDelete] = await bqRows(s.gcpConfig, `SELECT COUNT(*) AS n FROM ${changes} WHERE op = 'delete' AND NOT snapshot AND document_id = '${idOf(5)}'`);
    assert.equal(Number(streamedDelete!.n), 1, 'the delete after the snapshot came as a change');
    const [counts] = await bqRows(s.gcpConfig, `SELECT COUNT(*) AS total_rows, COUNT(DISTINCT event_id) AS distinct_events FROM ${changes}`);
    assert.equal(Number(counts!.total_rows), Number(counts!.distinct_events), 'no event twice in orders_changes');
    assert.equal(metricValue(await loader.metrics(), 'loader_snapshot_deletes_total'), 3);
    assert.equal(metricValue(await loader.metrics(), 'loader_snapshot_completions_waiting'), 0);
  });
});
