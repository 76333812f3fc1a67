import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Int32, Timestamp, type ChangeStreamDocument } from 'mongodb';
import { ChangeBatcher, type BatcherSettings } from './change-batcher.js';
import { StreamPosition } from './change-source.js';

/** the stop signal of a service not stopping */
const running = new AbortController().signal;
const settings: BatcherSettings = {
  streamId: 'shop.orders',
  db: 'shop',
  coll: 'orders',
  topic: 'orders-cdc',
  instance: 'cdc-0',
  onStreamEnd: 'stop',
  batchMaxEvents: 3,
  batchMaxBytes: 1 << 20,
  // long enough that a loaded machine does not close a batch by age before its count or byte bound
  batchMaxWaitMs: 1000,
  maxMessageBytes: 10_000,
};

let seq = 0;
function change(operationType: string, extra: Record<string, unknown> = {}): ChangeStreamDocument {
  seq++;
  return {
    _id: { _data: `TOKEN${String(seq).padStart(4, '0')}` },
    operationType,
    ns: { db: 'shop', coll: 'orders' },
    documentKey: { _id: new Int32(seq) },
    clusterTime: new Timestamp({ t: 1764151872, i: seq }),
    ...(operationType === 'insert' ? { fullDocument: { _id: new Int32(seq), note: 'x' } } : {}),
    ...extra,
  } as unknown as ChangeStreamDocument;
}

/** A change feed that hands out a script of changes, then nothing (null), as a quiet stream does. */
function feed(changes: (ChangeStreamDocument | StreamPosition)[]) {
  const queue = [...changes];
  let polls = 0;
  return {
    get polls() {
      return polls;
    },
    async tryNext() {
      polls++;
      if (queue.length > 0) return queue.shift()!;
      await new Promise((resolve) => setTimeout(resolve, 5));
      return null;
    },
  };
}

test('a batch closes at its event count and carries the last token, cluster time and op counts', async () => {
  const changes = [change('insert'), change('delete'), change('insert'), change('insert')];
  const batcher = new ChangeBatcher(feed(changes), settings, running);
  const first = await batcher.next();
  assert.equal(first.messages.length, 3);
  assert.equal(first.lastToken, (changes[2]!._id as { _data: string })._data);
  assert.deepEqual(first.lastClusterTime, { t: 1764151872, i: (changes[2]!.clusterTime as Timestamp).low });
  assert.deepEqual(first.ops, [['insert', 2], ['delete', 1]]);
  assert.deepEqual(first.messages.map((m) => m.message.key), changes.slice(0, 3).map((c) => `{"$numberInt":"${((c as unknown as { documentKey: { _id: Int32 } }).documentKey._id.value)}"}`));
  assert.ok(first.bytes > 0);
  const second = await batcher.next();
  assert.equal(second.messages.length, 1, 'the rest closes by age');
  assert.equal(second.fatal, null);
});

test('a batch closes at its byte bound and by age; a quiet stream gives an empty batch only when stopped', async () => {
  const bySize = new ChangeBatcher(feed([change('insert'), change('insert'), change('insert')]), { ...settings, batchMaxEvents: 100, batchMaxBytes: 10 }, running);
  assert.equal((await bySize.next()).messages.length, 1);
  const started = Date.now();
  const byAge = new ChangeBatcher(feed([change('insert')]), { ...settings, batchMaxEvents: 100 }, running);
  assert.equal((await byAge.next()).messages.length, 1);
  assert.ok(Date.now() - started >= settings.batchMaxWaitMs - 5);
  const stop = new AbortController();
  const quiet = new ChangeBatcher(feed([]), settings, stop.signal);
  setTimeout(() => stop.abort(), 30);
  const empty = await quiet.next();
  assert.equal(empty.messages.length, 0);
  assert.equal(empty.lastToken, null);
});

test('oversize and unserializable changes become dead letters with their reason and token', async () => {
  const big = change('insert', { fullDocument: { _id: 1, blob: 'x'.repeat(20_000) } });
  const looping: Record<string, unknown> = { _id: 2 };
  looping.loop = looping;
  const broken = change('insert', { fullDocument: looping });
  const batch = await new ChangeBatcher(feed([big, broken, change('insert')]), settings, running).next();
  assert.equal(batch.messages.length, 3, 'nothing dropped');
  assert.deepEqual(batch.messages.map((m) => m.topic), ['orders-cdc.dlq', 'orders-cdc.dlq', 'orders-cdc']);
  assert.deepEqual(batch.deadLetters.map((d) => d.reason), ['oversize', 'serialize_failed']);
  assert.equal(batch.deadLetters[1]!.resume_token, (broken._id as { _data: string })._data);
  assert.match(String(batch.messages[1]!.message.value), /circular/i);
});

test('stop mode: a drop ends the batch before it, with the operator message; the drop itself is not checkpointed', async () => {
  const before = change('insert');
  const batch = await new ChangeBatcher(feed([before, change('drop'), change('invalidate')]), settings, running).next();
  assert.equal(batch.messages.length, 1);
  assert.equal(batch.lastToken, (before._id as { _data: string })._data);
  assert.match(batch.fatal!, /saw 'drop'.*CDC_ON_STREAM_END=reopen/);
  assert.deepEqual(batch.streamEnds.map((e) => e.type), ['drop']);
  assert.equal(batch.reopenAfter, null);
});

test('reopen mode: drop then invalidate ends the batch at the invalidate, to reopen after it', async () => {
  const invalidate = change('invalidate');
  const batch = await new ChangeBatcher(feed([change('insert'), change('drop'), invalidate, change('insert')]), { ...settings, onStreamEnd: 'reopen' }, running).next();
  assert.equal(batch.messages.length, 1);
  assert.equal(batch.fatal, null);
  assert.deepEqual(batch.streamEnds.map((e) => e.type), ['drop', 'invalidate']);
  assert.equal(batch.reopenAfter, (invalidate._id as { _data: string })._data);
  assert.equal(batch.lastToken, batch.reopenAfter);
});

test('a stream position alone is handed over at once; after changes it moves the batch token past them', async () => {
  const alone = await new ChangeBatcher(feed([new StreamPosition('P1')]), settings, running).next();
  assert.deepEqual([alone.positionOnly, alone.lastToken, alone.messages.length], [true, 'P1', 0]);
  const insert = change('insert');
  const batcher = new ChangeBatcher(feed([insert, new StreamPosition('P2'), change('insert')]), settings, running);
  const after = await batcher.next();
  assert.deepEqual([after.positionOnly, after.messages.length], [false, 2], 'the position does not end a batch of changes');
  assert.equal(after.lastClusterTime!.i, (insert.clusterTime as Timestamp).low + 1, 'the cluster time stays the last change\'s');
  assert.notEqual(after.lastToken, 'P2', 'a later change moves the token on again');
  const withPositionLast = await new ChangeBatcher(feed([change('insert'), new StreamPosition('P3')]), settings, running).next();
  assert.deepEqual([withPositionLast.positionOnly, withPositionLast.lastToken, withPositionLast.messages.length], [false, 'P3', 1]);
});

test('encoding a batch of changes already read lets the event loop turn, so the next getMore is sent meanwhile', async () => {
  const changes = Array.from({ length: 1000 }, () => change('insert'));
  let taken = 0;
  const buffered = {
    tryNext: async () => null,
    // every change already read: a batcher that never awaited would encode all of them in one go
    takeBuffered: () => (taken < changes.length ? changes[taken++]! : null),
  };
  const turnsAt: number[] = [];
  let turning = true;
  const countTurns = () => {
    if (!turning) return;
    turnsAt.push(taken);
    setImmediate(countTurns);
  };
  setImmediate(countTurns);
  const batch = await new ChangeBatcher(buffered, { ...settings, batchMaxEvents: 1000 }, running).next();
  turning = false;
  assert.equal(batch.messages.length, 1000);
  const during = turnsAt.filter((at) => at > 0 && at < 1000);
  assert.ok(during.length >= 5, `the event loop turned ${during.length} times while 1000 changes were encoded`);
});
