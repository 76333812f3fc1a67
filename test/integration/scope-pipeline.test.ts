// A database scope through the whole pipeline as real processes (cdc -> Kafka -> processor -> Parquet -> loader ->
// BigQuery emulator), the shipped settings but the scope's: the processor follows the cdc's topic template
// (PROCESSOR_TOPIC_TEMPLATE), so the topic of a collection created while everything runs is read without a restart
// and its rows reach orders_changes (each change once) and orders_current (equal to the collection); a collection
// dropped while running leaves orders_current (CDC_DROPPED_COLLECTION_ROWS=delete, the default).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { infra } from '../support/infra.js';
import { suiteMongo } from '../support/mongo.js';
import { startService, type ServiceProcess } from '../support/service-process.js';
import { bqRows, currentByCollection, documentsOf, loaderScenario, sameDocuments, startScopeWarehouse, table, type LoaderScenario } from '../support/loader.js';
import { waitFor } from '../support/wait.js';

const mongo = suiteMongo();

describe('database scope end to end: collections created and dropped while the pipeline runs', () => {
  let s: LoaderScenario;
  const services: ServiceProcess[] = [];

  const currentState = async (coll: string) => (await currentByCollection(s, s.dataset, coll)).get(coll);
  const collectionState = (coll: string) => documentsOf(mongo().db(s.dataset).collection(coll));

  before(async () => {
    s = loaderScenario('scope-e2e');
    const template = `${s.prefix}-{coll}-cdc`;
    await mongo().db(s.dataset).collection('orders').insertMany([{ _id: 1, n: 1 } as never, { _id: 2, n: 2 } as never]);
    const warehouse = await startScopeWarehouse(s, template, 'scope-e2e');
    const cdc = await startService(
      'cdc',
      {
        MONGO_URI: infra.mongoUri,
        KAFKA_BROKERS: infra.kafkaBrokers,
        KAFKA_CLIENT_ID: `${s.prefix}-cdc`,
        CDC_CAPTURE_SCOPE: 'database',
        CDC_CAPTURE_DATABASE: s.dataset,
        CDC_TOPIC_TEMPLATE: template,
        CDC_CHECKPOINT_TOPIC: `${s.prefix}-checkpoints`,
      },
      'cdc-scope-e2e',
    );
    services.push(...warehouse, cdc);
    await Promise.all(services.map((service) => service.waitReady(120_000)));
  });
  after(async () => {
    for (const service of services) service.kill('SIGTERM');
    await Promise.all(services.map((service) => service.exited));
  });

  test('a collection created while running reaches orders_changes once per change and orders_current equal to it', async () => {
    await waitFor('the snapshot of orders in orders_current', async () => sameDocuments(await currentState('orders'), await collectionState('orders')), 180_000, 2000);
    // Created now: its topic does not exist yet when the processor starts.
    const fresh = mongo().db(s.dataset).collection('fresh');
    await fresh.insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i + 1, n: i + 1 }) as never));
    await fresh.updateOne({ _id: 3 } as never, { $set: { status: 'updated' } });
    await fresh.deleteOne({ _id: 4 } as never);
    await fresh.insertOne({ _id: 21, n: 21 } as never);
    const expected = await collectionState('fresh');
    assert.equal(expected.size, 20);
    await waitFor('fresh in orders_current equal to the collection', async () => sameDocuments(await currentState('fresh'), expected), 240_000, 2000);
    const changes = table(s.gcpConfig, 'orders_changes');
    const [counts] = await bqRows(
      s.gcpConfig,
      `SELECT COUNT(*) AS total_rows, COUNT(DISTINCT event_id) AS distinct_events, COUNTIF(op = 'update') AS updates, COUNTIF(op = 'delete') AS deletes FROM ${changes} WHERE db = '${s.dataset}' AND coll = 'fresh' AND op != 'snapshot_complete'`,
    );
    assert.equal(Number(counts!.total_rows), Number(counts!.distinct_events), 'no change of fresh twice in orders_changes');
    assert.equal(Number(counts!.updates), 1, 'its update once');
    assert.equal(Number(counts!.deletes), 1, 'its delete once');
    // 21 inserts, streamed or copied by its snapshot (a document may come both ways, as two distinct events)
    const [ids] = await bqRows(s.gcpConfig, `SELECT COUNT(DISTINCT document_id) AS n FROM ${changes} WHERE db = '${s.dataset}' AND coll = 'fresh' AND op IN ('insert', 'snapshot')`);
    assert.equal(Number(ids!.n), 21, 'every inserted document in orders_changes');
  });

  test("a collection dropped while running: its rows leave orders_current, the other collections' stay", async () => {
    const gone = mongo().db(s.dataset).collection('gone');
    await gone.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i + 1, n: i + 1 }) as never));
    await waitFor('gone in orders_current', async () => (await currentState('gone'))?.size === 5, 240_000, 2000);
    await gone.drop();
    await waitFor("gone's rows deleted from orders_current", async () => (await currentState('gone')) === undefined, 240_000, 2000);
    assert.ok(sameDocuments(await currentState('orders'), await collectionState('orders')), 'orders untouched');
    assert.ok(sameDocuments(await currentState('fresh'), await collectionState('fresh')), 'fresh untouched');
    const [deletes] = await bqRows(s.gcpConfig, `SELECT COUNT(*) AS n FROM ${table(s.gcpConfig, 'orders_changes')} WHERE db = '${s.dataset}' AND coll = 'gone' AND op = 'delete'`);
    assert.equal(Number(deletes!.n), 5, 'one delete row per dropped document');
  });
});
