// A database scope (CDC_CAPTURE_SCOPE=database), the cdc as a real process with the shipped defaults otherwise
// (initial snapshot, stop on a stream end, rows of a dropped collection deleted): one change stream for 50
// collections written concurrently, a SIGKILL in the middle, collections appearing while it runs (created, renamed
// in), excluded collections, a dropped one, checked in Kafka and, through the processor and the loader
// (PROCESSOR_TOPIC_TEMPLATE: the topics of the collections appearing later are read without a restart), in BigQuery;
// then instances splitting the scope by collection.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChangeStreamDocument, Document, Timestamp } from 'mongodb';
import { ChangeEventSchema, compareClusterTime, decodeSnapshotComplete, documentIdOf, eventIdFromResumeToken, fromCanonicalJson, toCanonicalJson, type ChangeEvent } from '@cdc/core';
import { uniqueName } from '../support/infra.js';
import { bqRows, currentByCollection, documentsOf, loaderScenario, sameDocuments, startScopeWarehouse, table } from '../support/loader.js';
import { readTopic, testKafka, type Kafka } from '../support/kafka.js';
import { scopeEnv, suiteMongo } from '../support/mongo.js';
import { startService, type ServiceProcess } from '../support/service-process.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { sleep, waitFor } from '../support/wait.js';

const kafka = testKafka();
const sharedMongo = suiteMongo();

/**
 * Every committed record of the topics that exist among `topics` (at least `minCounts[topic]` of each), one reader
 * per topic, side by side.
 */
async function readTopics(client: Kafka, topics: string[], minCounts: Record<string, number> = {}): Promise<ChangeEvent[]> {
  const admin = client.admin();
  await admin.connect();
  let existing = new Set<string>();
  try {
    // the cdc creates a collection's topic as the collection appears, maybe after the test sees it captured: a topic
    // expected to hold events is waited for, never skipped
    await waitFor('the topics expected to hold events', async () => {
      existing = new Set(await admin.listTopics());
      return topics.every((t) => (minCounts[t] ?? 0) === 0 || existing.has(t));
    });
  } finally {
    await admin.disconnect();
  }
  const read = await Promise.all(
    topics.filter((t) => existing.has(t)).map((topic) => readTopic(client, topic, { minCount: minCounts[topic] ?? 0, timeoutMs: 120000, quietMs: 3000 })),
  );
  return read.flat().map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));
}

/** The documents as the events leave them: the newest cluster time wins, at a tie a change beats a snapshot row. */
function rebuild(events: ChangeEvent[]): Map<string, string> {
  const latest = new Map<string, ChangeEvent>();
  for (const event of events.filter((e) => e.op !== 'snapshot_complete')) {
    const current = latest.get(event.document_id);
    const order = current ? compareClusterTime(current.cluster_time, event.cluster_time) : -1;
    if (order < 0 || (order === 0 && current!.op === 'snapshot')) latest.set(event.document_id, event);
  }
  const state = new Map<string, string>();
  for (const [id, event] of latest) if (event.op !== 'delete' && event.document) state.set(id, toCanonicalJson(fromCanonicalJson<Document>(event.document)));
  return state;
}

async function stateOf(db: string, coll: string): Promise<Map<string, string>> {
  const docs = await sharedMongo().db(db).collection(coll).find({}, { promoteValues: false }).toArray();
  return new Map(docs.map((d) => [toCanonicalJson(d._id), toCanonicalJson(d)]));
}

/** The change stream cursors open on `db`'s collections or on the database itself ($currentOp, idle cursors). */
async function openStreams(db: string): Promise<string[]> {
  const ops = await sharedMongo().db('admin').aggregate([{ $currentOp: { idleCursors: true } }, { $match: { type: 'idleCursor' } }]).toArray();
  return ops.map((op) => String(op.ns)).filter((ns) => ns.startsWith(`${db}.`));
}

/** Every document change of the database since `token`, by the test's own database stream. */
async function changesSince(db: string, token: Document): Promise<ChangeStreamDocument[]> {
  const stream = sharedMongo().db(db).watch([], { resumeAfter: token, maxAwaitTimeMS: 300 });
  const changes: ChangeStreamDocument[] = [];
  try {
    for (let change = await stream.tryNext(); change; change = await stream.tryNext()) changes.push(change);
  } finally {
    await stream.close();
  }
  return changes;
}

async function startToken(db: string): Promise<Document> {
  const stream = sharedMongo().db(db).watch([], { maxAwaitTimeMS: 200 });
  await stream.tryNext();
  await sharedMongo().db(db).collection('marker').insertOne({ at: new Date() });
  const change = await stream.next();
  await stream.close();
  return change._id as Document;
}

const collections = (db: string, stream: { ns?: { db: string; coll?: string } }) => stream.ns?.db === db;

describe('cdc: database scope', () => {
  test('50 collections written concurrently through ONE change stream, a SIGKILL between; new, renamed-in, excluded and dropped collections; each change once in orders_changes, orders_current equal per collection', async () => {
    const seed = seedFromEnv();
    const random = seededRandom(seed);
    // the BigQuery dataset is named after the database
    const warehouse = loaderScenario('cdc-scope');
    const prefix = warehouse.prefix;
    const db = warehouse.dataset;
    const names = Array.from({ length: 50 }, (_, i) => `c${String(i).padStart(2, '0')}`);
    const database = sharedMongo().db(db);
    for (const name of names) await database.collection(name).insertMany(Array.from({ length: 20 }, (_, i) => ({ _id: i, v: 0, name } as never)));
    await database.collection('excluded_a').insertMany([{ _id: 1, secret: true }] as never[]);
    await database.collection('excluded_moved').insertMany(Array.from({ length: 30 }, (_, i) => ({ _id: i, moved: true } as never)));
    await database.collection('dropme').insertMany([{ _id: 1 }, { _id: 2 }] as never[]);
    const from = await startToken(db);
    const env = scopeEnv(prefix, db, { CDC_COLLECTION_EXCLUDE: `${db}\\.(excluded_.*|marker)` });

    const pipeline = await startScopeWarehouse(warehouse, env.CDC_TOPIC_TEMPLATE!, 'cdc-scope');
    let cdc: ServiceProcess = await startService('cdc', env, 'cdc-scope');
    try {
      await Promise.all([...pipeline, cdc].map((service) => service.waitReady(120_000)));
      // the stream opens once the scope's 51 collections are listed and their 102 topics made (one request: about
      // 4 s measured on a busy machine, much more under heavy load), so the test waits longer than the usual start
      await cdc.waitForLog(/change stream opened/, 120_000);
      await waitFor('the change stream open on the server', async () => (await openStreams(db)).length > 0);
      assert.deepEqual(await openStreams(db), [`${db}.$cmd.aggregate`], 'one change stream for the whole database, none per collection');

      let writes = 0;
      const writer = (name: string) => async () => {
        const collection = database.collection(name);
        for (let n = 0; n < 20; n++) {
          const id = Math.floor(random() * 25);
          const roll = random();
          if (roll < 0.6) writes += (await collection.updateOne({ _id: id } as never, { $inc: { v: 1 }, $set: { n } }, { upsert: true })).upsertedCount + 1;
          else if (roll < 0.8) writes += (await collection.replaceOne({ _id: id } as never, { replaced: n, name })).modifiedCount;
          else writes += (await collection.deleteOne({ _id: id } as never)).deletedCount;
        }
      };
      const firstHalf = Promise.all(names.map((name) => writer(name)()));
      await sleep(300 + random() * 700);
      await cdc.kill('SIGKILL');
      await firstHalf;
      cdc = await startService('cdc', env, 'cdc-scope-2');
      await cdc.waitReady();
      await Promise.all(names.map((name) => writer(name)()));
      await database.collection('excluded_a').updateOne({ _id: 1 } as never, { $set: { secret: 'still' } });
      // created while running: its first event makes it new (snapshotted, then streamed)
      await database.collection('late').insertMany(Array.from({ length: 40 }, (_, i) => ({ _id: i, late: true } as never)));
      await database.collection('late').updateOne({ _id: 3 } as never, { $set: { late: 'changed' } });
      // renamed into the scope: its documents came without events, only its snapshot carries them
      await database.renameCollection('excluded_moved', 'moved_in');
      await database.collection('moved_in').updateOne({ _id: 0 } as never, { $set: { after: 'rename' } });
      await database.collection('dropme').drop();

      const captured = [...names, 'late', 'moved_in'];
      const status = async () => (await (await fetch(`http://127.0.0.1:${cdc.port}/collections`)).json()) as { collections: { collection: string; phase: string }[] };
      await waitFor('every collection streaming', async () => {
        const phases = new Map((await status()).collections.map((c) => [c.collection.slice(db.length + 1), c.phase]));
        return captured.every((name) => phases.get(name) === 'streaming') && phases.get('dropme') === 'stopped';
      }, 120000, 500);
      // the killed process's cursor may still be open on the server (MongoDB keeps an idle cursor for 10 minutes)
      const open = await openStreams(db);
      assert.ok(open.length <= 2 && open.every((ns) => ns === `${db}.$cmd.aggregate`), `database streams only, one per process that ran: ${open}`);

      const truth = (await changesSince(db, from)).filter((c) => collections(db, c as never));
      const documentChanges = truth.filter((c) => ['insert', 'update', 'replace', 'delete'].includes(c.operationType));
      const capturedChanges = documentChanges.filter((c) => captured.includes((c as { ns: { coll: string } }).ns.coll) || (c as { ns: { coll: string } }).ns.coll === 'dropme');
      const topics = [...captured, 'dropme', 'excluded_a', 'excluded_moved', 'marker'].map((name) => `${prefix}-${name}-cdc`);
      const expected: Record<string, number> = { [`${prefix}-moved_in-cdc`]: 30 };
      for (const change of capturedChanges) {
        const topic = `${prefix}-${(change as { ns: { coll: string } }).ns.coll}-cdc`;
        expected[topic] = (expected[topic] ?? 0) + 1;
      }
      const events = await readTopics(kafka, topics, expected);

      assert.ok(!events.some((e) => /^(excluded_|marker)/.test(e.coll)), 'no change of an excluded collection reached Kafka');
      const admin = kafka.admin();
      await admin.connect();
      const existing = await admin.listTopics();
      await admin.disconnect();
      assert.ok(!existing.includes(`${prefix}-excluded_a-cdc`), 'no topic made for an excluded collection');

      const streamed = events.filter((e) => e.op !== 'snapshot' && e.op !== 'snapshot_complete');
      const ids = streamed.map((e) => e.event_id);
      assert.equal(new Set(ids).size, ids.length, `no change twice in Kafka (seed ${seed})`);
      assert.deepEqual(
        [...ids].sort(),
        capturedChanges.map((c) => eventIdFromResumeToken((c._id as { _data: string })._data)).sort(),
        `every change of every captured collection once (seed ${seed}; ${writes} writes)`,
      );
      for (const name of captured) {
        const own = events.filter((e) => e.coll === name);
        assert.deepEqual(rebuild(own), await stateOf(db, name), `${name}: the events rebuild the collection (seed ${seed})`);
        const snapshotIds = own.filter((e) => e.op === 'snapshot').map((e) => e.document_id);
        assert.equal(new Set(snapshotIds).size, snapshotIds.length, `${name}: snapshotted once`);
      }
      assert.equal(events.filter((e) => e.coll === 'moved_in' && e.op === 'snapshot').length, 30, 'the renamed-in collection snapshotted: its 30 documents');
      assert.ok(events.some((e) => e.coll === 'late' && e.op === 'snapshot'), 'the collection created while running snapshotted');

      const dropped = events.filter((e) => e.coll === 'dropme');
      const marker = dropped.find((e) => e.op === 'snapshot_complete');
      assert.ok(marker, 'the dropped collection: the marker that has the loader delete its rows');
      assert.equal(decodeSnapshotComplete(marker.document!).snapshot_events, 0);
      const drop = truth.find((c) => c.operationType === 'drop' && (c as { ns: { coll: string } }).ns.coll === 'dropme')!;
      assert.ok(compareClusterTime(marker.cluster_time, { t: (drop.clusterTime as Timestamp).high, i: (drop.clusterTime as Timestamp).low }) > 0, 'the marker stands after the drop');
      assert.equal(cdc.exitCode, undefined, 'a drop stops that collection only (CDC_ON_STREAM_END=stop), the service goes on');

      // the same run in the warehouse: the processor and the loader ran alongside since the start
      const stillCaptured = capturedChanges.filter((c) => (c as { ns: { coll: string } }).ns.coll !== 'dropme');
      const expectedIds = stillCaptured.map((c) => eventIdFromResumeToken((c._id as { _data: string })._data)).sort();
      const streamedRows = async () =>
        bqRows(warehouse.gcpConfig, `SELECT coll, event_id FROM ${table(warehouse.gcpConfig, 'orders_changes')} WHERE db = '${db}' AND op NOT IN ('snapshot', 'snapshot_complete')`);
      const collectionsNow = new Map(await Promise.all(captured.map(async (name) => [name, await documentsOf(database.collection(name))] as const)));
      // on a timeout the assertions below say what differs
      await waitFor(
        'every change in orders_changes and orders_current equal to every collection',
        async () => {
          if ((await streamedRows()).filter((row) => row.coll !== 'dropme').length < expectedIds.length) return false;
          const current = await currentByCollection(warehouse, db);
          return !current.has('dropme') && captured.every((name) => sameDocuments(current.get(name), collectionsNow.get(name)!));
        },
        240_000,
        2000,
      ).catch(() => undefined);
      const rows = await streamedRows();
      assert.deepEqual(rows.filter((row) => /^(excluded_|marker)/.test(String(row.coll))), [], 'no change of an excluded collection in orders_changes');
      assert.deepEqual(
        rows.filter((row) => row.coll !== 'dropme').map((row) => String(row.event_id)).sort(),
        expectedIds,
        `every change of every captured collection once in orders_changes (seed ${seed})`,
      );
      const current = await currentByCollection(warehouse, db);
      const holdingDocuments = captured.filter((name) => collectionsNow.get(name)!.size > 0);
      assert.deepEqual([...current.keys()].sort(), holdingDocuments.sort(), 'orders_current: the captured collections, none dropped or excluded');
      for (const name of captured) assert.deepEqual(current.get(name) ?? new Map(), collectionsNow.get(name), `${name}: orders_current equals the collection (seed ${seed})`);
      const [droppedRows] = await bqRows(warehouse.gcpConfig, `SELECT COUNTIF(op = 'snapshot') AS snapshot_rows FROM ${table(warehouse.gcpConfig, 'orders_changes')} WHERE db = '${db}' AND coll = 'dropme'`);
      assert.equal(
        Number(droppedRows!.snapshot_rows),
        dropped.filter((e) => e.op === 'snapshot').length,
        "the dropped collection's snapshot rows loaded into orders_changes, and none of them stands in orders_current",
      );
    } catch (error) {
      console.error(`capture scope test failed with TEST_SEED=${seed}`);
      throw error;
    } finally {
      await Promise.all([cdc, ...pipeline].map((service) => service.kill()));
      await database.dropDatabase();
    }
  });

  test("a new scope's first start: the newest write before it is copied by the snapshot, not streamed too; the first write after it is streamed", async () => {
    const prefix = uniqueName('cdc-scope-first');
    const db = prefix.replaceAll('-', '_');
    const database = sharedMongo().db(db);
    const topic = `${prefix}-orders-cdc`;
    await database.collection('orders').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i, v: 0 } as never)));
    // the deployment's newest write when the cdc starts: the cluster time its stream starts from
    await database.collection('orders').updateOne({ _id: 4 } as never, { $set: { v: 'before the start' } });
    const cdc = await startService('cdc', scopeEnv(prefix, db), 'cdc-scope-first');
    try {
      await cdc.waitReady();
      await cdc.waitForLog(/change stream opened/);
      await waitFor('the collection snapshotted', async () => {
        const { collections } = (await (await fetch(`http://127.0.0.1:${cdc.port}/collections`)).json()) as { collections: { phase: string }[] };
        return collections.length === 1 && collections[0]!.phase === 'streaming';
      });
      await database.collection('orders').updateOne({ _id: 1 } as never, { $set: { v: 'after the start' } });
      const events = await readTopics(kafka, [topic], { [topic]: 6 });
      const changes = events.filter((e) => e.op !== 'snapshot');
      assert.deepEqual(changes.map((e) => [e.op, e.document_id]), [['update', documentIdOf({ _id: 1 })]], 'one change: the write after the start, not the one before it');
      assert.equal(events.filter((e) => e.op === 'snapshot').length, 5, 'every document once as a snapshot row');
      assert.deepEqual(rebuild(events), await stateOf(db, 'orders'));
      assert.equal(fromCanonicalJson<Document>(events.find((e) => e.op === 'snapshot' && e.document_id === documentIdOf({ _id: 4 }))!.document!).v, 'before the start', 'the write before the start is in its snapshot row');
    } finally {
      await cdc.kill();
      await database.dropDatabase();
    }
  });

  test('two instances split the scope by collection: each its own change stream and its own collections, together each change once', async () => {
    const prefix = uniqueName('cdc-scope-split');
    const db = prefix.replaceAll('-', '_');
    const database = sharedMongo().db(db);
    const names = Array.from({ length: 10 }, (_, i) => `s${i}`);
    const env = (index: number) => scopeEnv(prefix, db, { CDC_INSTANCE_INDEX: String(index), CDC_INSTANCE_COUNT: '2', CDC_SNAPSHOT: 'never' });
    const instances = [await startService('cdc', env(0), 'cdc-split-0'), await startService('cdc', env(1), 'cdc-split-1')];
    try {
      for (const cdc of instances) {
        await cdc.waitReady();
        await cdc.waitForLog(/change stream opened/);
      }
      await waitFor('both change streams open on the server', async () => (await openStreams(db)).length === 2);
      assert.deepEqual(await openStreams(db), [`${db}.$cmd.aggregate`, `${db}.$cmd.aggregate`], 'one stream per instance');
      for (const name of names) await database.collection(name).insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i } as never)));
      const ownersNow = () =>
        Promise.all(instances.map(async (cdc) => ((await (await fetch(`http://127.0.0.1:${cdc.port}/collections`)).json()) as { collections: { collection: string }[] }).collections.map((c) => c.collection)));
      await waitFor('every collection picked up', async () => (await ownersNow()).flat().length >= names.length);
      const events = await readTopics(kafka, names.map((n) => `${prefix}-${n}-cdc`), Object.fromEntries(names.map((n) => [`${prefix}-${n}-cdc`, 10])));
      const perCollection = names.map((n) => `${n}: ${events.filter((e) => e.coll === n).length}`).join(', ');
      assert.equal(events.length, 100, `each insert once (${perCollection})`);
      assert.equal(new Set(events.map((e) => e.event_id)).size, 100);
      const owners = await ownersNow();
      assert.deepEqual([...owners[0]!, ...owners[1]!].sort(), names.map((n) => `${db}.${n}`).sort(), 'every collection captured by exactly one instance');
      assert.ok(owners[0]!.length > 0 && owners[1]!.length > 0, `both instances have collections: ${owners.map((o) => o.length)}`);
    } finally {
      for (const cdc of instances) await cdc.kill();
      await database.dropDatabase();
    }
  });

  test('deployment scope: the included databases through one stream on admin, an excluded database never captured, a collection made while the cdc was down snapshotted at its restart', async () => {
    const prefix = uniqueName('cdc-deploy');
    const base = prefix.replaceAll('-', '_');
    const [a, b, x] = ['a', 'b', 'x'].map((n) => sharedMongo().db(`${base}_${n}`));
    await a!.collection('orders').insertMany(Array.from({ length: 10 }, (_, i) => ({ _id: i } as never)));
    const env = scopeEnv(prefix, '', { CDC_CAPTURE_SCOPE: 'deployment', CDC_DATABASE_INCLUDE: `${base}_.*`, CDC_DATABASE_EXCLUDE: `${base}_x` });
    const deploymentStreams = async () =>
      (await sharedMongo().db('admin').aggregate([{ $currentOp: { idleCursors: true } }, { $match: { type: 'idleCursor', ns: 'admin.$cmd.aggregate' } }]).toArray()).filter((op) =>
        JSON.stringify(op.cursor.originatingCommand.pipeline).includes(base),
      );
    let cdc = await startService('cdc', env, 'cdc-deploy');
    try {
      await cdc.waitReady();
      await waitFor('the deployment stream open on the server', async () => (await deploymentStreams()).length === 1);
      await b!.collection('items').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i } as never)));
      await x!.collection('hidden').insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i } as never)));
      await a!.collection('orders').updateOne({ _id: 1 } as never, { $set: { paid: true } });
      const first = cdc;
      await waitFor('the changes read', async () => ((await (await fetch(`http://127.0.0.1:${first.port}/collections`)).json()) as { collections: { events: number }[] }).collections.reduce((n, c) => n + c.events, 0) >= 6);
      await cdc.kill();
      // made while the cdc is down, and then no more writes: only the restart's listing finds it
      await b!.collection('quiet').insertMany(Array.from({ length: 3 }, (_, i) => ({ _id: i } as never)));
      cdc = await startService('cdc', env, 'cdc-deploy-2');
      await cdc.waitReady();
      const restarted = cdc;
      await waitFor('the three collections streaming', async () => {
        const { collections } = (await (await fetch(`http://127.0.0.1:${restarted.port}/collections`)).json()) as { collections: { phase: string }[] };
        return collections.length === 3 && collections.every((c) => c.phase === 'streaming');
      });
      const events = await readTopics(kafka, ['orders', 'items', 'hidden', 'quiet'].map((n) => `${prefix}-${n}-cdc`), {
        [`${prefix}-orders-cdc`]: 11,
        [`${prefix}-items-cdc`]: 5,
        [`${prefix}-quiet-cdc`]: 6,
      });
      const by = (coll: string) => events.filter((e) => e.coll === coll).map((e) => e.op).sort();
      // the stream starts just after the first start's cluster time: the last insert before it is a snapshot row only
      assert.deepEqual(by('orders'), [...Array(10).fill('snapshot'), 'update'], 'a collection found at the first start: snapshot, then its change');
      assert.deepEqual(by('items').filter((op) => op !== 'snapshot'), Array(5).fill('insert'), 'a collection appearing while running: each change once');
      assert.ok(by('items').filter((op) => op === 'snapshot').length <= 5, 'and its snapshot (initial), once');
      assert.ok(events.filter((e) => e.coll === 'quiet').every((e) => e.db === `${base}_b`));
      assert.equal(by('quiet').filter((op) => op === 'snapshot').length, 3, 'made while down: snapshotted at the restart (and its inserts streamed)');
      assert.equal(by('hidden').length, 0, 'nothing of the excluded database');
      assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, 'nothing twice');
    } finally {
      await cdc.kill();
      for (const db of [a, b, x]) await db!.dropDatabase();
    }
  });

  test('an invalid pattern fails at start naming its variable', async () => {
    const cdc = await startService('cdc', scopeEnv('x', 'x', { CDC_COLLECTION_INCLUDE: 'orders(' }), 'cdc-scope-badconf');
    assert.equal(await cdc.exited, 78);
    assert.match(cdc.output.join('\n'), /CDC_COLLECTION_INCLUDE.*not a valid regular expression/);
  });
});
