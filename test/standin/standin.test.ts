// The MongoDB stand-in (scripts/infra/mongo) against its own promise: every write is applied and logged, or
// refused and leaves the data unchanged. Seeded random scripts of inserts, updates (operators, positional, array
// filters), replacements, deletes, their *Many forms, upserts, findOneAndUpdate/Replace/Delete and ordered and
// unordered bulk writes with failures, on documents with dotted and $-prefixed field names, unicode and odd _id
// types. Checked per operation: its change events are exactly what the driver acknowledged; and the collection
// rebuilt from the change stream alone (the test's own replay, not the stand-in's) equals find() after every
// refused write and at the end. Seeds: STANDIN_SEED (first of the run, random by default), STANDIN_SEEDS,
// STANDIN_OPERATIONS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Timestamp, type ChangeStream, type ChangeStreamDocument, type Collection, type Db, type Document, type MongoClient } from 'mongodb';
import { uniqueName } from '../support/infra.js';
import { testMongo } from '../support/mongo.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { EXACT_TYPES, OperationScript, type EventCounts, type OperationRecord } from './operations.js';
import { canonical, canonicalById, ReplayedCollection, timestampValue } from './replay.js';

const firstSeed = seedFromEnv('STANDIN_SEED');
const seeds = Number(process.env.STANDIN_SEEDS ?? 10);
const operationsPerSeed = Number(process.env.STANDIN_OPERATIONS ?? 1000);

let client: MongoClient;
let db: Db;

before(async () => {
  client = await testMongo();
  db = client.db(uniqueName('standin').replace(/-/g, '_'));
});

after(async () => {
  await db.dropDatabase();
  await client.close();
});

/** The newest cluster time: every event of the writes so far is at or before it. */
async function clusterTime(): Promise<bigint> {
  const reply = await db.command({ ping: 1 });
  return timestampValue(reply.operationTime as Timestamp);
}

async function snapshot(collection: Collection): Promise<Map<string, string>> {
  return canonicalById(await collection.find({}, EXACT_TYPES).toArray());
}

interface RecordedOperation extends OperationRecord {
  /** Cluster time right after the operation: its events lie after the previous one's and at or before this. */
  time: bigint;
  /** The whole collection right after the operation (refused writes, and every 100th). */
  state?: Map<string, string>;
}

async function allEvents(collection: Collection, from: bigint): Promise<ChangeStreamDocument[]> {
  const stream = collection.watch([], {
    startAtOperationTime: new Timestamp(from),
    maxAwaitTimeMS: 200,
    ...EXACT_TYPES,
  });
  const events: ChangeStreamDocument[] = [];
  try {
    for (let event = await stream.tryNext(); event !== null; event = await stream.tryNext()) events.push(event);
  } finally {
    await stream.close();
  }
  return events;
}

function counts(events: ChangeStreamDocument[]): EventCounts {
  const of = (...types: string[]) => events.filter((e) => types.includes(e.operationType)).length;
  assert.equal(of('insert', 'update', 'replace', 'delete'), events.length, `unexpected event types: ${events.map((e) => e.operationType)}`);
  return { inserts: of('insert'), updates: of('update', 'replace'), deletes: of('delete') };
}

function assertSameCollection(replayed: ReplayedCollection, actual: Map<string, string>, context: string): void {
  const rebuilt = replayed.canonicalDocuments();
  for (const [id, document] of actual) {
    assert.equal(rebuilt.get(id), document, `${context}: document ${id} differs between the replayed events and find()`);
  }
  assert.deepEqual([...rebuilt.keys()].sort(), [...actual.keys()].sort(), `${context}: different _ids`);
}

for (let n = 0; n < seeds; n++) {
  const seed = firstSeed + n;
  test(`seed ${seed}: ${operationsPerSeed} random writes, each with exactly its change events (STANDIN_SEED=${firstSeed})`, async () => {
    const collection = db.collection(`c${seed}`);
    const random = seededRandom(seed);
    const session = client.startSession();
    const script = new OperationScript(random, collection, session);
    const start = await clusterTime();

    const operations: RecordedOperation[] = [];
    for (let i = 0; i < operationsPerSeed; i++) {
      const record = await script.next();
      // a refused write may answer without operationTime: ask the server then
      const time = record.failed || !session.operationTime ? await clusterTime() : timestampValue(session.operationTime);
      const state = record.failed || i % 100 === 99 || i === operationsPerSeed - 1 ? await snapshot(collection) : undefined;
      operations.push({ ...record, time, state });
    }

    await session.endSession();
    const events = await allEvents(collection, start);
    const replayed = new ReplayedCollection();
    let next = 0;
    for (const [i, operation] of operations.entries()) {
      const context = `seed ${seed}, operation ${i}: ${operation.description}`;
      const own: ChangeStreamDocument[] = [];
      while (next < events.length && timestampValue((events[next] as { clusterTime: Timestamp }).clusterTime) <= operation.time) {
        own.push(events[next++] as ChangeStreamDocument);
      }
      const beforeChange = operation.changed ? canonical(replayed.get(operation.changed.id) ?? null) : undefined;
      for (const event of own) replayed.apply(event);
      const expected = { ...operation.expected };
      if (operation.changed) {
        const { before, after: changedDocument } = operation.changed;
        expected.updates = (before ? canonical(before) : beforeChange) === canonical(changedDocument) ? 0 : 1;
        assert.equal(canonical(replayed.get(operation.changed.id) ?? null), canonical(changedDocument), `${context}: document after it`);
      }
      assert.deepEqual(counts(own), expected, `${context}: events`);
      if (operation.state) assertSameCollection(replayed, operation.state, context);
    }
    assert.equal(next, events.length, `seed ${seed}: events after the last operation`);
    const refusedBulkWrites = operations.filter((o) => o.failed && o.description.startsWith('bulkWrite')).length;
    const dottedWrites = operations.filter((o) => !o.failed && o.description.includes('"dotted.name"')).length;
    assert.ok(refusedBulkWrites > 0 && dottedWrites > 0, `seed ${seed}: ${refusedBulkWrites} bulk writes with a failure, ${dottedWrites} acknowledged writes naming dotted.name`);
    assertSameCollection(replayed, await snapshot(collection), `seed ${seed}, at the end`);
  });
}

test('local.oplog.rs: oldest and newest entries by $natural (the newest is the cluster time); a filter is refused', async () => {
  const oplog = client.db('local').collection('oplog.rs');
  await db.collection('oplog_ends').insertMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
  const now = await clusterTime();
  const ts = (entries: { ts: Timestamp }[]) => entries.map((e) => timestampValue(e.ts));
  const newest = ts((await oplog.find({}, { sort: { $natural: -1 }, limit: 3 }).toArray()) as never);
  assert.equal(newest[0], now, 'the newest entry is the cluster time');
  assert.deepEqual([...newest].sort((a, b) => (a < b ? 1 : -1)), newest, 'newest first');
  assert.equal(newest.length, 3);
  const [oldest] = ts((await oplog.find({}, { sort: { $natural: 1 }, limit: 1 }).toArray()) as never);
  assert.ok(oldest! < newest[2]!, 'the oldest entry is older than these writes');
  await assert.rejects(oplog.find({ ts: { $gt: new Timestamp({ t: 0, i: 0 }) } }).limit(1).toArray(), (error: { code?: number }) => error.code === 2);
});

/** Every event of a stream from `from` until none comes for a while (it ends early at an invalidate). */
async function drain(stream: ChangeStream<Document, ChangeStreamDocument>): Promise<ChangeStreamDocument[]> {
  const events: ChangeStreamDocument[] = [];
  try {
    for (let event = await stream.tryNext(); event !== null; event = stream.closed ? null : await stream.tryNext()) {
      events.push(event);
      if (event.operationType === 'invalidate') break;
    }
  } finally {
    await stream.close();
  }
  return events;
}

const tokenOf = (event: ChangeStreamDocument) => (event._id as { _data: string })._data;
const nsOf = (event: ChangeStreamDocument) => {
  const ns = (event as { ns?: { db: string; coll?: string } }).ns;
  return ns ? `${ns.db}.${ns.coll ?? ''}` : '';
};

test('database and deployment streams: each collection\'s events once, in cluster-time order, with ns; $match on ns; drop, rename, dropDatabase as MongoDB emits them; $currentOp lists the open streams', async () => {
  const name = uniqueName('scope').replace(/-/g, '_');
  const scoped = client.db(name);
  const other = client.db(`${name}_other`);
  const from = new Timestamp(await clusterTime());
  const options = { startAtOperationTime: from, maxAwaitTimeMS: 200 };

  await scoped.collection('a').insertMany([{ _id: 1 }, { _id: 2 }] as never[]);
  await scoped.collection('b').insertOne({ _id: 1 } as never);
  await other.collection('c').insertOne({ _id: 1 } as never);
  await scoped.collection('a').updateOne({ _id: 1 } as never, { $set: { x: 1 } });
  await scoped.collection('b').deleteOne({ _id: 1 } as never);
  await scoped.renameCollection('a', 'a2');
  await scoped.collection('a2').insertOne({ _id: 3 } as never);
  await scoped.dropDatabase();
  await other.dropDatabase();

  const perCollection = [...(await drain(scoped.collection('a').watch([], options))), ...(await drain(scoped.collection('b').watch([], options)))];
  const database = await drain(scoped.watch([], options));
  const deployment = (await drain(client.watch([], options))).filter((e) => nsOf(e).startsWith(name));

  const documentChanges = (events: ChangeStreamDocument[]) => events.filter((e) => ['insert', 'update', 'delete'].includes(e.operationType));
  assert.deepEqual(
    documentChanges(database).map((e) => `${e.operationType} ${nsOf(e)}`),
    ['insert a', 'insert a', 'insert b', 'update a', 'delete b', 'insert a2'].map((s) => s.replace(/ /, ` ${name}.`)),
    'the database stream: its own collections only, in cluster-time order',
  );
  const perCollectionTokens = new Set(documentChanges(perCollection).map(tokenOf));
  for (const event of documentChanges(database).filter((e) => nsOf(e) !== `${name}.a2`)) {
    assert.ok(perCollectionTokens.has(tokenOf(event)), 'the same event, with the same resume token, as the collection stream\'s');
  }
  const ends = database.filter((e) => documentChanges([e]).length === 0).map((e) => `${e.operationType} ${nsOf(e)}`);
  assert.deepEqual(
    [ends[0], [...ends.slice(1, -2)].sort(), ends.slice(-2)],
    [`rename ${name}.a`, [`drop ${name}.a2`, `drop ${name}.b`], [`dropDatabase ${name}.`, 'invalidate ']],
    'rename, the drops of dropDatabase (any order), dropDatabase, then the invalidate that ends a database stream',
  );
  const rename = database.find((e) => e.operationType === 'rename') as { to: { db: string; coll: string } };
  assert.deepEqual(rename.to, { db: name, coll: 'a2' });
  const described = (events: ChangeStreamDocument[]) => events.map((e) => `${e.operationType} ${nsOf(e)}`);
  assert.deepEqual(
    described(deployment).sort(),
    [...described(database.filter((e) => e.operationType !== 'invalidate')), `insert ${name}_other.c`, `drop ${name}_other.c`, `dropDatabase ${name}_other.`].sort(),
    'the deployment stream: every database, no invalidate',
  );
  assert.deepEqual(
    deployment.map((e) => timestampValue((e as { clusterTime: Timestamp }).clusterTime)),
    deployment.map((e) => timestampValue((e as { clusterTime: Timestamp }).clusterTime)).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
    'in cluster-time order',
  );

  const matched = await drain(scoped.watch([{ $match: { 'ns.coll': { $regex: '^a' } } }], options));
  assert.deepEqual(
    described(matched),
    described(database.filter((e) => /^a/.test((e as { ns?: { coll?: string } }).ns?.coll ?? '') || e.operationType === 'invalidate')),
    '$match on ns.coll (an invalidate is never filtered out, as in MongoDB)',
  );

  const open = async () =>
    (await client.db('admin').aggregate([{ $currentOp: { idleCursors: true } }, { $match: { type: 'idleCursor', ns: `${name}.$cmd.aggregate` } }]).toArray()).length;
  const stream = scoped.watch([], { maxAwaitTimeMS: 100 });
  await stream.tryNext();
  assert.equal(await open(), 1, 'one open database stream listed by $currentOp');
  await stream.close();
  assert.equal(await open(), 0, 'closed: no longer listed');
});
