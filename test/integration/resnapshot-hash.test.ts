// CDC_PARTITION_MODE=hash: two cdc instances split one collection by hashed document key, both lose their history
// while down (a private stand-in whose oplog keeps 20 entries) and re-snapshot (CDC_ON_HISTORY_LOST=resnapshot),
// one after the other, through the whole pipeline as real processes. The loader's snapshot deletes match the
// current rows by collection, not by the instance's share: this checks that each instance's snapshot copies the
// whole collection (its marker counts every document), so its deletes remove only documents gone from MongoDB,
// never a live document of the other instance's share.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { decodeSnapshotComplete, fromCanonicalJson, toCanonicalJson } from '@cdc/core';
import { cdcEnv, rolledOffOplog } from '../support/mongo.js';
import { startService, type ServiceProcess } from '../support/service-process.js';
import { bqRows, loaderScenario, pipelineProcessorEnv, table, type LoaderScenario } from '../support/loader.js';
import { startPrivateMongo, type PrivateMongo } from '../support/private-mongo.js';
import { waitFor } from '../support/wait.js';

interface Order {
  _id: number;
  n: number;
  round?: number;
}

describe('re-snapshot after a lost history with CDC_PARTITION_MODE=hash and two instances', () => {
  let s: LoaderScenario;
  let privateMongo: PrivateMongo;
  let mongo: MongoClient;
  let orders: Collection<Order>;
  const services: ServiceProcess[] = [];

  const currentState = async () =>
    new Map((await bqRows(s.gcpConfig, `SELECT document_id, document FROM ${table(s.gcpConfig, 'orders_current')}`)).map((row) => [String(row.document_id), String(row.document)]));
  const collectionState = async () => new Map((await orders.find().toArray()).map((doc) => [toCanonicalJson(doc._id), toCanonicalJson(doc)]));
  const sameState = (a: Map<string, string>, b: Map<string, string>) =>
    a.size === b.size && [...a].every(([id, doc]) => b.has(id) && JSON.stringify(fromCanonicalJson(doc)) === JSON.stringify(fromCanonicalJson(b.get(id)!)));
  /** The _id of a document_id (canonical JSON of an integer). */
  const idOf = (documentId: string) => Number(fromCanonicalJson<{ v: unknown }>(`{"v":${documentId}}`).v);

  before(async () => {
    privateMongo = await startPrivateMongo({ MONGO_OPLOG_MAX_ENTRIES: '20' });
    mongo = new MongoClient(privateMongo.uri, { serverSelectionTimeoutMS: 10000 });
    await mongo.connect();
    s = loaderScenario('resnap-hash');
    orders = mongo.db(s.dataset).collection<Order>('orders');
    const loader = await startService('loader', s.env({ KAFKA_TOPIC_PARTITIONS: '3' }), 'loader-resnap-hash');
    const processor = await startService('processor', pipelineProcessorEnv(s, 3), 'processor-resnap-hash');
    services.push(loader, processor);
    await Promise.all([loader.waitReady(), processor.waitReady()]);
  });
  after(async () => {
    for (const service of services) service.kill('SIGTERM');
    await Promise.all(services.map((service) => service.exited));
    await mongo?.close();
    await privateMongo?.stop();
  });

  test("each instance's snapshot copies the whole collection: its deletes remove the documents deleted while the history was lost, never the other share's", async () => {
    const changes = table(s.gcpConfig, 'orders_changes');
    const cdcOf = (index: number, extra: Record<string, string> = {}) =>
      cdcEnv(s.prefix, s.dataset, {
        MONGO_URI: privateMongo.uri,
        KAFKA_CLIENT_ID: `${s.prefix}-cdc`,
        CDC_SNAPSHOT: 'initial',
        CDC_PARTITION_MODE: 'hash',
        CDC_INSTANCE_COUNT: '2',
        CDC_INSTANCE_INDEX: String(index),
        ...extra,
      });
    const start = async (index: number, name: string, extra: Record<string, string> = {}) => {
      const cdc = await startService('cdc', cdcOf(index, extra), name);
      services.push(cdc);
      await cdc.waitReady();
      return cdc;
    };

    await orders.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i + 1, n: i + 1 })));
    const first = [await start(0, 'cdc-hash-0'), await start(1, 'cdc-hash-1')];
    for (const cdc of first) await cdc.waitForLog(/change stream opened/, 60_000);
    // one update of each document: the instance that streams it owns it
    await orders.updateMany({}, { $set: { round: 1 } });
    const owners = await waitFor('every update in orders_changes', async () => {
      const rows = await bqRows(s.gcpConfig, `SELECT document_id, source_instance, resume_token FROM ${changes} WHERE op = 'update'`);
      return rows.length === 20 ? rows : null;
    }, 180_000, 2000);
    const shareOf = (instance: string) => owners.filter((row) => row.source_instance === instance).map((row) => String(row.document_id));
    const [share0, share1] = [shareOf('cdc-0'), shareOf('cdc-1')];
    assert.ok(share0.length >= 4 && share1.length >= 4, `both instances own documents: ${share0.length} and ${share1.length}`);
    const lastToken = String(owners.map((row) => String(row.resume_token)).sort().at(-1));
    for (const cdc of first) await cdc.kill('SIGTERM');

    // While both are down: three documents of each share deleted, one updated, one inserted, then enough other
    // writes to roll the oplog past them.
    const deleted = [...share0.slice(0, 3), ...share1.slice(0, 3)];
    await orders.deleteMany({ _id: { $in: deleted.map(idOf) } });
    await orders.updateOne({ _id: idOf(share1[3]!) }, { $set: { round: 2 } });
    await orders.insertOne({ _id: 21, n: 21 });
    const filler = mongo.db(s.dataset).collection('filler');
    for (let i = 0; i < 30; i++) await filler.insertOne({ i });
    assert.ok(await rolledOffOplog(orders as unknown as Collection<Document>, lastToken), "the instances' resume points have rolled off the oplog");
    const documents = (await collectionState()).size;

    // one after the other: the second starts once the first's snapshot is complete
    for (const index of [1, 0]) {
      const cdc = await start(index, `cdc-hash-${index}-resnapshot`, { CDC_ON_HISTORY_LOST: 'resnapshot' });
      await cdc.waitForLog(/resume point lost from the oplog: taking a new snapshot/, 60_000);
      await cdc.waitForLog(/snapshot complete/, 120_000);
    }
    await orders.insertOne({ _id: 22, n: 22 });
    const expected = await collectionState();
    await waitFor('orders_current to equal the collection', async () => sameState(await currentState(), expected), 240_000, 2000);

    const markers = await bqRows(s.gcpConfig, `SELECT source_instance, document FROM ${changes} WHERE op = 'snapshot_complete' ORDER BY source_instance`);
    assert.deepEqual(
      markers.map((row) => [row.source_instance, decodeSnapshotComplete(String(row.document)).snapshot_events]),
      [['cdc-0', documents], ['cdc-1', documents]],
      "each instance's snapshot counts every document of the collection, not its share",
    );
    const deleteRows = await bqRows(s.gcpConfig, `SELECT DISTINCT document_id FROM ${changes} WHERE op = 'delete' AND snapshot`);
    assert.deepEqual(deleteRows.map((row) => String(row.document_id)).sort(), [...deleted].sort(), "snapshot deletes for the documents deleted in the lost history, of both shares, and for no live document");
  });
});
