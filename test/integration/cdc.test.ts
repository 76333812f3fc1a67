// CDC service against the real Kafka broker and the MongoDB stand-in, started as a real process.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Decimal128, Double, Long, MongoClient, type Document } from 'mongodb';
import { ChangeEventSchema, compareClusterTime, eventIdFromResumeToken, fromCanonicalJson, type ChangeEvent } from '@cdc/core';
import { uniqueName } from '../support/infra.js';
import { startPrivateKafka } from '../support/private-kafka.js';
import { readTopic, testKafka } from '../support/kafka.js';
import { cdcEnv, rolledOffOplog, suiteMongo } from '../support/mongo.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { startPrivateMongo } from '../support/private-mongo.js';
import { waitFor } from '../support/wait.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kafka = testKafka();
const sharedMongo = suiteMongo();

const decode = (value: Buffer | null): ChangeEvent => ChangeEventSchema.parse(JSON.parse(String(value)));

/** Every change the server recorded for a collection since `from`, read by the test's own change stream. */
async function rawChangeIds(collection: ReturnType<ReturnType<MongoClient['db']>['collection']>, resumeAfter: Document, expected: number): Promise<string[]> {
  const stream = collection.watch([], { resumeAfter, maxAwaitTimeMS: 300 });
  const ids: string[] = [];
  const deadline = Date.now() + 60000;
  let quietSince = Date.now();
  try {
    while (Date.now() < deadline && (ids.length < expected || Date.now() - quietSince < 1000)) {
      const change = await stream.tryNext();
      if (change) {
        ids.push(eventIdFromResumeToken((change._id as { _data: string })._data));
        quietSince = Date.now();
      }
    }
  } finally {
    await stream.close();
  }
  return ids;
}

/** A resume token taken just before the test's writes: the test's own change stream starts after it. */
async function currentToken(collection: ReturnType<ReturnType<MongoClient['db']>['collection']>): Promise<Document> {
  const stream = collection.watch([], { maxAwaitTimeMS: 200 });
  await stream.tryNext(); // opens the cursor; watch() is lazy
  await collection.insertOne({ _id: 'marker' as unknown as never, marker: true });
  const change = await stream.next();
  await stream.close();
  return change._id as Document;
}

describe('cdc service', () => {
  test('each operation type arrives with the right envelope, key and headers', async () => {
    const prefix = uniqueName('cdc-ops');
    const db = prefix.replaceAll('-', '_');
    const cdc = await startService('cdc', cdcEnv(prefix, db), 'cdc-ops');
    try {
      await cdc.waitReady();
      await cdc.waitForLog(/change stream opened/);
      const orders = sharedMongo().db(db).collection('orders');
      await orders.insertOne({ _id: 1 as unknown as never, status: 'new', total: Decimal128.fromString('19.99'), qty: Long.fromString('9007199254740993'), weight: new Double(42), count: 42, note: 'x' });
      await orders.updateOne({ _id: 1 as unknown as never }, { $set: { status: 'paid' }, $unset: { note: '' } });
      await orders.replaceOne({ _id: 1 as unknown as never }, { status: 'replaced', total: Decimal128.fromString('1.00') });
      await orders.deleteOne({ _id: 1 as unknown as never });
      const messages = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: 4 });
      const events = messages.map((m) => ({ event: decode(m.value), key: String(m.key), headers: m.headers! }));
      assert.deepEqual(events.map((e) => e.event.op), ['insert', 'update', 'replace', 'delete']);
      for (const { event, key, headers } of events) {
        assert.equal(key, '{"$numberInt":"1"}');
        assert.equal(event.document_id, key);
        assert.equal(String(headers.event_id), event.event_id);
        assert.equal(String(headers.op), event.op);
        assert.equal(String(headers.schema_version), '1');
        assert.equal(event.db, db);
        assert.equal(event.coll, 'orders');
        assert.equal(event.source.snapshot, false);
        assert.ok(event.resume_token);
      }
      const [insert, update, replace, del] = events.map((e) => e.event);
      const inserted = fromCanonicalJson<Document>(insert!.document!);
      assert.equal(inserted.total.toString(), '19.99');
      assert.equal(inserted.total._bsontype, 'Decimal128');
      assert.equal(inserted.qty._bsontype, 'Long');
      assert.equal(inserted.qty.toString(), '9007199254740993');
      // A double holding a whole number stays a double, distinct from an int32 of the same value.
      assert.match(insert!.document!, /"weight":\{"\$numberDouble":"42\.0"\}/);
      assert.match(insert!.document!, /"count":\{"\$numberInt":"42"\}/);
      assert.ok(update!.update_description, 'update carries its update description');
      assert.match(update!.update_description!.updated_fields, /"status":"paid"/);
      assert.deepEqual(update!.update_description!.removed_fields, ['note']);
      // updateLookup returns the document as it is when the event is read (MongoDB semantics), maybe already replaced.
      assert.ok(update!.document === null || /"_id":\{"\$numberInt":"1"\}/.test(update!.document));
      assert.equal(replace!.update_description, null);
      assert.match(replace!.document!, /"status":"replaced"/);
      assert.equal(del!.document, null);
      for (let i = 1; i < events.length; i++) assert.ok(compareClusterTime(events[i - 1]!.event.cluster_time, events[i]!.event.cluster_time) < 0);
    } finally {
      await cdc.kill();
    }
  });

  test('SIGKILL at random moments: every change reaches Kafka exactly once, in order per document', async () => {
    const seed = seedFromEnv();
    const random = seededRandom(seed);
    const prefix = uniqueName('cdc-kill');
    const db = prefix.replaceAll('-', '_');
    const orders = sharedMongo().db(db).collection('orders');
    const startToken = await currentToken(orders);
    const env = cdcEnv(prefix, db, { CDC_BATCH_MAX_EVENTS: '50' });
    let cdc: ServiceProcess = await startService('cdc', env, 'cdc-kill');
    try {
      await cdc.waitReady();
      await cdc.waitForLog(/change stream opened/);
      let writes = 0;
      let writing = true;
      const writer = (async () => {
        while (writing) {
          const id = Math.floor(random() * 40);
          const roll = random();
          if (roll < 0.4) {
            const r = await orders.updateOne({ _id: id as unknown as never }, { $inc: { version: 1 }, $set: { at: new Date() } }, { upsert: true });
            writes += r.modifiedCount + r.upsertedCount;
          } else if (roll < 0.6) {
            const r = await orders.replaceOne({ _id: id as unknown as never }, { replaced: random(), items: [{ sku: 'a', qty: 1 }] });
            writes += r.modifiedCount;
          } else if (roll < 0.75) {
            writes += (await orders.deleteOne({ _id: id as unknown as never })).deletedCount;
          } else {
            writes += (await orders.updateOne({ _id: id as unknown as never }, { $setOnInsert: { created: new Date() }, $inc: { n: 1 } }, { upsert: true })).modifiedCount ? 1 : 1;
          }
          await sleep(2);
        }
      })();
      for (let kill = 0; kill < 4; kill++) {
        await sleep(300 + random() * 900);
        await cdc.kill('SIGKILL');
        await sleep(random() * 300);
        cdc = await startService('cdc', env, `cdc-kill-${kill}`);
        await cdc.waitReady();
      }
      await sleep(500);
      writing = false;
      await writer;
      const expected = await rawChangeIds(orders, startToken, writes);
      assert.ok(expected.length >= writes, `test change stream saw ${expected.length} of ${writes} writes`);
      const messages = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: expected.length, timeoutMs: 90000, quietMs: 3000 });
      // The service's first start point is the newest oplog entry, inclusive: the marker insert may be in Kafka too.
      const markerId = eventIdFromResumeToken((startToken as { _data: string })._data);
      const events = messages.map((m) => decode(m.value)).filter((e) => e.event_id !== markerId);
      const ids = events.map((e) => e.event_id);
      assert.equal(new Set(ids).size, ids.length, `duplicates in Kafka (seed ${seed})`);
      assert.deepEqual([...ids].sort(), [...expected].sort(), `Kafka differs from the change stream (seed ${seed})`);
      const byDocument = new Map<string, ChangeEvent[]>();
      for (const event of events) byDocument.set(event.document_id, [...(byDocument.get(event.document_id) ?? []), event]);
      for (const [doc, list] of byDocument) {
        for (let i = 1; i < list.length; i++) {
          assert.ok(compareClusterTime(list[i - 1]!.cluster_time, list[i]!.cluster_time) < 0, `order broken for ${doc} (seed ${seed})`);
        }
      }
    } catch (error) {
      console.error(`cdc kill test failed with TEST_SEED=${seed}`);
      throw error;
    } finally {
      await cdc.kill();
    }
  });

  test('snapshot with concurrent writes rebuilds the collection, and a killed snapshot resumes', async () => {
    const prefix = uniqueName('cdc-snap');
    const db = prefix.replaceAll('-', '_');
    const orders = sharedMongo().db(db).collection('orders');
    const total = 3000;
    await orders.insertMany(Array.from({ length: total }, (_, i) => ({ _id: i as unknown as never, status: 'new', total: Decimal128.fromString(`${i}.50`), weight: new Double(i) })));
    const env = cdcEnv(prefix, db, { CDC_SNAPSHOT: 'initial', CDC_SNAPSHOT_BATCH_SIZE: '100' });
    let cdc = await startService('cdc', env, 'cdc-snap');
    let writing = true;
    const writer = (async () => {
      let n = 0;
      while (writing) {
        const id = (n * 7919) % (total + 200);
        if (n % 5 === 0) await orders.deleteOne({ _id: id as unknown as never });
        else await orders.updateOne({ _id: id as unknown as never }, { $set: { status: `s${n}` } }, { upsert: true });
        n++;
        await sleep(3);
      }
    })();
    try {
      await cdc.waitReady();
      // Kill once part of the snapshot is committed.
      for (let i = 0; i < 300; i++) {
        if (metricValue(await cdc.metrics(), 'cdc_snapshot_documents_total') >= 500) break;
        await sleep(20);
      }
      await cdc.kill('SIGKILL');
      cdc = await startService('cdc', env, 'cdc-snap-2');
      await cdc.waitReady();
      const resumed = await cdc.waitForLog(/snapshot started/);
      assert.doesNotMatch(resumed, /"resumingAfter":null/, 'second run resumes the snapshot instead of restarting it');
      await cdc.waitForLog(/snapshot complete/, 60000);
      await sleep(500);
      writing = false;
      await writer;
      const finalDocs = await orders.find().toArray();
      const messages = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: total, timeoutMs: 90000, quietMs: 3000 });
      const events = messages.map((m) => decode(m.value));
      const snapshotRows = events.filter((e) => e.op === 'snapshot').length;
      assert.ok(snapshotRows < total + 1000, `snapshot restarted instead of resuming: ${snapshotRows} snapshot rows`);
      const weights = events.filter((e) => e.op === 'snapshot' && e.document?.includes('"weight"')).map((e) => /"weight":(\{[^}]*\})/.exec(e.document!)![1]);
      assert.ok(weights.length > total / 2, `${weights.length} snapshot rows carry their weight`);
      for (const weight of weights) assert.match(weight!, /^\{"\$numberDouble":"\d+\.0"\}$/, 'snapshot rows keep doubles as doubles');
      // Rebuild the state: the latest cluster time wins; at a tie a streamed change beats a snapshot row.
      const state = new Map<string, ChangeEvent>();
      for (const event of events) {
        const current = state.get(event.document_id);
        const order = current ? compareClusterTime(current.cluster_time, event.cluster_time) : -1;
        if (order < 0 || (order === 0 && current!.op === 'snapshot')) state.set(event.document_id, event);
      }
      const rebuilt = new Map<string, string>();
      for (const [id, event] of state) if (event.op !== 'delete' && event.document) rebuilt.set(id, fromCanonicalJson<Document>(event.document).status);
      assert.equal(rebuilt.size, finalDocs.length, 'same number of live documents');
      for (const doc of finalDocs) assert.equal(rebuilt.get(`{"$numberInt":"${doc._id}"}`), doc.status, `document ${doc._id}`);
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await cdc.kill();
    }
  });

  test("the snapshot's newest write is copied by the snapshot, not streamed too; the first write after it is streamed", async () => {
    const prefix = uniqueName('cdc-snap-edge');
    const db = prefix.replaceAll('-', '_');
    const orders = sharedMongo().db(db).collection('orders');
    await orders.insertMany(Array.from({ length: 5 }, (_, i) => ({ _id: i as unknown as never, v: 0 })));
    // the deployment's newest write when the snapshot starts: the cluster time it reads
    await orders.updateOne({ _id: 4 as unknown as never }, { $set: { v: 'before the snapshot' } });
    const cdc = await startService('cdc', cdcEnv(prefix, db, { CDC_SNAPSHOT: 'initial' }), 'cdc-snap-edge');
    try {
      await cdc.waitReady();
      await cdc.waitForLog(/snapshot complete/, 60000);
      await orders.updateOne({ _id: 1 as unknown as never }, { $set: { v: 'after the snapshot' } });
      const events = (await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: 6, timeoutMs: 60000, quietMs: 2000 })).map((m) => decode(m.value));
      assert.deepEqual(
        events.filter((e) => e.op !== 'snapshot').map((e) => [e.op, e.document_id]),
        [['update', '{"$numberInt":"1"}']],
        'one change: the write after the snapshot, not the one it copied',
      );
      const rows = events.filter((e) => e.op === 'snapshot');
      assert.equal(rows.length, 5, 'every document once as a snapshot row');
      assert.equal(fromCanonicalJson<Document>(rows.find((e) => e.document_id === '{"$numberInt":"4"}')!.document!).v, 'before the snapshot');
    } finally {
      await cdc.kill();
    }
  });

  // With the shipped defaults, on a broker of the test's own (the tests beside it keep theirs); the broker itself
  // may take a minute to come back on a busy machine, hence the wait.
  test('Kafka broker stopped and restarted mid-stream: the service retries and loses nothing', async () => {
    const prefix = uniqueName('cdc-broker');
    const db = prefix.replaceAll('-', '_');
    const orders = sharedMongo().db(db).collection('orders');
    const broker = await startPrivateKafka();
    let cdc: ServiceProcess | undefined;
    try {
      cdc = await startService('cdc', { ...cdcEnv(prefix, db), KAFKA_BROKERS: broker.brokers }, 'cdc-broker');
      await cdc.waitReady();
      await cdc.waitForLog(/change stream opened/);
      for (let i = 0; i < 50; i++) await orders.insertOne({ _id: i as unknown as never, phase: 'before' });
      await broker.stop();
      for (let i = 50; i < 100; i++) await orders.insertOne({ _id: i as unknown as never, phase: 'during' });
      await sleep(2000);
      await broker.start();
      for (let i = 100; i < 150; i++) await orders.insertOne({ _id: i as unknown as never, phase: 'after' });
      const messages = await readTopic(testKafka({ brokers: broker.brokers }), `${prefix}-orders-cdc`, { minCount: 150, timeoutMs: 240000, quietMs: 3000 });
      const ids = messages.map((m) => decode(m.value).document_id);
      assert.equal(ids.length, 150);
      assert.equal(new Set(ids).size, 150);
      assert.equal(cdc.child.exitCode, null, 'the service kept running');
    } finally {
      await cdc?.kill();
      await broker.remove();
    }
  });

  test('bad configuration fails at start with a clear error and a non-zero exit', async () => {
    const badFormat = await startService('cdc', { MONGO_URI: 'http://nope', CDC_COLLECTIONS: 'orders-without-db', KAFKA_BROKERS: 'no-port' }, 'cdc-badconf');
    assert.equal(await badFormat.exited, 78);
    const text = badFormat.output.join('\n');
    for (const name of ['MONGO_URI', 'CDC_COLLECTIONS', 'KAFKA_BROKERS']) assert.match(text, new RegExp(name));

    const noMongo = await startService('cdc', { ...cdcEnv('x', 'x'), MONGO_URI: 'mongodb://user:topsecret@127.0.0.1:1/?serverSelectionTimeoutMS=1000', MONGO_CONNECT_TIMEOUT_MS: '1000' }, 'cdc-nomongo');
    assert.notEqual(await noMongo.exited, 0);
    assert.match(noMongo.output.join('\n'), /cannot connect to MongoDB/);
    assert.doesNotMatch(noMongo.output.join('\n'), /topsecret/);

    const noKafka = await startService('cdc', { ...cdcEnv('x', 'x'), KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_RETRIES: '1' }, 'cdc-nokafka');
    assert.notEqual(await noKafka.exited, 0);
    assert.match(noKafka.output.join('\n'), /cannot reach Kafka/);
  });
});

describe('cdc: an idle collection keeps its place while the oplog rolls', () => {
  test('busy writes roll the oplog past the idle collection\'s last event; after a SIGKILL the cdc resumes, nothing re-snapshotted', async () => {
    // Shipped defaults (heartbeat every 60 s, snapshot first, fail when the history is lost) on a private stand-in
    // whose oplog keeps 500 entries: the burst below is larger than that, the slow writes after it much smaller.
    const oplogEntries = 500;
    const privateMongo = await startPrivateMongo({ MONGO_OPLOG_MAX_ENTRIES: String(oplogEntries) });
    const client = new MongoClient(privateMongo.uri, { serverSelectionTimeoutMS: 10000 });
    const prefix = uniqueName('cdc-idle');
    const db = prefix.replaceAll('-', '_');
    const busy = client.db(db).collection('busy');
    const idle = client.db(db).collection('idle');
    const idleStream = `${db}.idle`;
    const env = cdcEnv(prefix, db, {
      MONGO_URI: privateMongo.uri,
      CDC_COLLECTIONS: `${db}.busy,${db}.idle`,
      CDC_SNAPSHOT: 'initial',
      CDC_BATCH_MAX_WAIT_MS: '200',
    });
    const opened = (cdc: ServiceProcess) =>
      waitFor('both change streams opened', () => {
        // a cdc that lost its place exits: the timeout then says why
        assert.equal(cdc.child.exitCode, null, `the cdc exited: ${cdc.output.filter((l) => /"level":"fatal"/.test(l)).join('\n')}`);
        return cdc.output.filter((l) => /change stream opened/.test(l)).length === 2;
      });
    const readyz = async (cdc: ServiceProcess) =>
      (await (await fetch(`http://127.0.0.1:${cdc.port}/readyz`)).json()) as { oplog: { window_seconds: number }; streams: Record<string, { lost: boolean }> };
    let busyWrites = 0;
    const writeBusy = async (count: number) => {
      await busy.insertMany(Array.from({ length: count }, () => ({ n: busyWrites++ })));
    };
    let cdc: ServiceProcess | null = null;
    let writing = true;
    let writer: Promise<void> = Promise.resolve();
    try {
      await client.connect();
      await idle.insertOne({ _id: 'before-start' as never });
      cdc = await startService('cdc', env, 'cdc-idle-1');
      await cdc.waitReady();
      await opened(cdc);
      await idle.insertOne({ _id: 'idle-1' as never });
      const idleEvent = await waitFor('idle-1 in Kafka', async () =>
        (await readTopic(kafka, `${prefix}-idle-cdc`, { minCount: 2 })).map((m) => decode(m.value)).find((e) => e.document_id === '"idle-1"'),
      );

      for (let i = 0; i < (oplogEntries + 100) / 100; i++) await writeBusy(100);
      assert.ok(await rolledOffOplog(idle, idleEvent.resume_token!), 'the idle collection\'s last event has rolled off the oplog');
      await cdc.waitForLog(new RegExp(`"streamId":"${idleStream}".*resume point is no longer in the oplog`), 60000);

      // Writes go on, slowly, until the idle stream has recorded its position (default interval: 60 s).
      const heartbeats = metricValue(await cdc.metrics(), 'cdc_heartbeat_checkpoints_total', { stream: idleStream });
      writer = (async () => {
        while (writing) {
          await writeBusy(1);
          await sleep(500);
        }
      })();
      const running = cdc;
      await waitFor('a heartbeat checkpoint of the idle stream', async () => metricValue(await running.metrics(), 'cdc_heartbeat_checkpoints_total', { stream: idleStream }) > heartbeats, 120000, 1000);
      assert.equal(typeof (await readyz(running)).oplog.window_seconds, 'number', '/readyz shows the oplog window');
      await waitFor('/readyz to show the idle stream back in the window', async () => (await readyz(running)).streams?.[idleStream]?.lost === false, 30000, 1000);

      await cdc.kill('SIGKILL');
      cdc = await startService('cdc', env, 'cdc-idle-2');
      await cdc.waitReady();
      await opened(cdc);
      writing = false;
      await writer;
      await idle.insertOne({ _id: 'idle-2' as never });

      const idleEvents = (await readTopic(kafka, `${prefix}-idle-cdc`, { minCount: 3 })).map((m) => decode(m.value));
      assert.deepEqual(idleEvents.filter((e) => e.op === 'snapshot').map((e) => e.document_id), ['"before-start"'], 'snapshotted once');
      // Streaming starts at the snapshot's cluster time, inclusive: the insert of before-start may follow its snapshot.
      // (Sorted: documents in different partitions come back in any order.)
      assert.deepEqual(
        idleEvents.filter((e) => e.op !== 'snapshot' && e.document_id !== '"before-start"').map((e) => `${e.op} ${e.document_id}`).sort(),
        ['insert "idle-1"', 'insert "idle-2"'],
        'each change of the idle collection once',
      );
      assert.equal(new Set(idleEvents.map((e) => e.event_id)).size, idleEvents.length, 'no event twice');
      const busyEvents = (await readTopic(kafka, `${prefix}-busy-cdc`, { minCount: busyWrites, timeoutMs: 90000 })).map((m) => decode(m.value));
      assert.equal(new Set(busyEvents.map((e) => e.event_id)).size, busyWrites, 'every busy write once');
      assert.equal(busyEvents.length, busyWrites, 'no busy write twice');
      assert.ok(!cdc.output.some((l) => /snapshot started|ChangeStreamHistoryLost/.test(l)), 'the restarted cdc neither snapshots nor loses its place');
      assert.equal(cdc.child.exitCode, null, 'the restarted cdc is running');
    } finally {
      writing = false;
      await writer.catch(() => undefined);
      await cdc?.kill();
      await client.close();
      await privateMongo.stop();
    }
  });
});
