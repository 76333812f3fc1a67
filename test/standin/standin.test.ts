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
import { Timestamp, type ChangeStreamDocument, type Collection, type Db, type MongoClient } from 'mongodb';
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
