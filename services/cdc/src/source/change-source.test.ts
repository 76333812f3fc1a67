import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collection } from 'mongodb';
import { BSON, Int32, MongoServerError } from 'mongodb';
import { RawBsonDocument } from '@cdc/core';
import { ChangeSource, StreamPosition, isEventTooLarge, isHistoryLost } from './change-source.js';

/**
 * A collection whose change stream replays a script of getMore results: changes, or an empty batch with the
 * postBatchResumeToken the driver then reports as its resumeToken.
 */
function scriptedCollection(script: ({ change: string } | { empty: string } | { doc: Record<string, unknown> & { _id: { _data: string } } })[], pipelines: unknown[][] = []): Collection {
  let resumeToken: { _data: string } | null = null;
  const stream = {
    get resumeToken() {
      return resumeToken;
    },
    async tryNext() {
      const step = script.shift();
      if (!step) {
        await new Promise((resolve) => setTimeout(resolve, 5));
        return null;
      }
      if ('empty' in step) {
        resumeToken = { _data: step.empty };
        return null;
      }
      // raw, as the source opens the stream: the bytes go through the driver's per-change step
      if ('doc' in step) {
        resumeToken = step.doc._id;
        return stream._processChange(Buffer.from(BSON.serialize(step.doc)));
      }
      resumeToken = { _data: step.change };
      return stream._processChange(Buffer.from(BSON.serialize({ _id: { _data: step.change }, operationType: 'insert' })));
    },
    _processChange(change: unknown) {
      return change;
    },
    async close() {},
  };
  return {
    watch: (pipeline: unknown[]) => {
      pipelines.push(pipeline);
      return stream;
    },
  } as unknown as Collection;
}

/** A change with its raw documents decoded, to compare. */
function decoded(value: unknown): unknown {
  if (value instanceof RawBsonDocument) return value.decode();
  if (value === null || typeof value !== 'object' || Object.getPrototypeOf(value) !== Object.prototype) return value;
  return Object.fromEntries(Object.entries(value).map(([name, field]) => [name, decoded(field)]));
}

test('after an empty batch the stream position follows the changes before it, once per position', async () => {
  const source = new ChangeSource(scriptedCollection([{ change: 'C1' }, { empty: 'P1' }, { empty: 'P1' }, { change: 'C2' }, { empty: 'P2' }]), {
    fullDocumentBeforeChange: 'off',
    pipeline: [],
    maxAwaitTimeMs: 50,
    batchSize: 10,
  });
  source.open({ kind: 'now' });
  const seen: string[] = [];
  for (let i = 0; i < 10 && seen.length < 4; i++) {
    const next = await source.tryNext();
    if (next instanceof StreamPosition) seen.push(`position ${next.token}`);
    else if (next) seen.push(`change ${(next._id as { _data: string })._data}`);
  }
  await source.close();
  assert.deepEqual(seen, ['change C1', 'position P1', 'change C2', 'position P2']);
});

test('BSONObjectTooLarge (10334) is told apart: a change event over 16 MiB stops the stream with its own message', () => {
  assert.equal(isEventTooLarge(new MongoServerError({ message: 'BSONObj size: 47185974 (0x2D00036) is invalid', code: 10334, codeName: 'BSONObjectTooLarge' })), true);
  assert.equal(isEventTooLarge(new MongoServerError({ message: 'Executor error during getMore', codeName: 'BSONObjectTooLarge' })), true);
  assert.equal(isEventTooLarge(new MongoServerError({ message: 'history lost', code: 286, codeName: 'ChangeStreamHistoryLost' })), false);
  assert.equal(isEventTooLarge(new Error('BSONObjectTooLarge')), false, 'only a server error');
});

test('ChangeStreamHistoryLost (286) is told by its code or code name, not by the wording of a message', () => {
  // as the server (and the stand-in) answers a resume point older than the oplog
  const lost = new MongoServerError({ ok: 0, errmsg: 'Executor error during getMore :: caused by :: Resume of change stream was not possible, as the resume point may no longer be in the oplog.', code: 286, codeName: 'ChangeStreamHistoryLost' });
  assert.equal(isHistoryLost(lost), true);
  assert.equal(isHistoryLost(new MongoServerError({ message: 'history lost', codeName: 'ChangeStreamHistoryLost' })), true);
  // the same words under another code are not taken for it (servers before 4.4 said so as 280 ChangeStreamFatalError)
  assert.equal(isHistoryLost(new MongoServerError({ message: 'the resume point may no longer be in the oplog', code: 280, codeName: 'ChangeStreamFatalError' })), false);
  assert.equal(isHistoryLost(new MongoServerError({ message: 'BSONObj size: 47185974 (0x2D00036) is invalid', code: 10334, codeName: 'BSONObjectTooLarge' })), false);
  assert.equal(isHistoryLost(new Error('ChangeStreamHistoryLost')), false, 'only a server error');
});

test('$changeStreamSplitLargeEvent: the stage ends the pipeline; fragments are joined into one change with the last fragment\'s token, and no position is taken between them', async () => {
  const pipelines: unknown[][] = [];
  // Int32, as the driver gives them with promoteValues: false
  const fragment = (n: number, of: number, fields: Record<string, unknown>) => ({ doc: { _id: { _data: `F${n}` }, splitEvent: { fragment: new Int32(n), of: new Int32(of) }, ...fields } });
  const source = new ChangeSource(
    scriptedCollection(
      [
        { change: 'C1' },
        fragment(1, 3, { operationType: 'update', documentKey: { _id: 1 }, fullDocument: { _id: 1, big: 'after' } }),
        { empty: 'MID' }, // a getMore that ended between fragments
        fragment(2, 3, { fullDocumentBeforeChange: { _id: 1, big: 'before' } }),
        fragment(3, 3, { updateDescription: { updatedFields: { big: 'after' }, removedFields: [] } }),
        { empty: 'P1' },
      ],
      pipelines,
    ),
    { fullDocumentBeforeChange: 'whenAvailable', pipeline: [{ $match: { x: 1 } }], maxAwaitTimeMs: 50, batchSize: 10, splitLargeEvents: true },
  );
  source.open({ kind: 'now' });
  const seen: unknown[] = [];
  for (let i = 0; i < 20 && seen.length < 3; i++) {
    const next = await source.tryNext();
    if (next instanceof StreamPosition) seen.push(`position ${next.token}`);
    else if (next) seen.push(next);
  }
  await source.close();
  assert.deepEqual(pipelines, [[{ $match: { x: 1 } }, { $changeStreamSplitLargeEvent: {} }]]);
  // the documents stay bytes until written as canonical JSON
  const joined = seen[1] as Record<string, unknown>;
  assert.ok(joined.fullDocument instanceof RawBsonDocument && joined.fullDocumentBeforeChange instanceof RawBsonDocument);
  assert.deepEqual(seen.map(decoded), [
    { _id: { _data: 'C1' }, operationType: 'insert' },
    {
      _id: { _data: 'F3' },
      operationType: 'update',
      documentKey: { _id: new Int32(1) },
      fullDocument: { _id: new Int32(1), big: 'after' },
      fullDocumentBeforeChange: { _id: new Int32(1), big: 'before' },
      updateDescription: { updatedFields: { big: 'after' }, removedFields: [] },
    },
    'position P1',
  ]);
});

test('a fragment out of order fails the stream instead of joining a wrong event; without the setting the pipeline is left alone', async () => {
  const pipelines: unknown[][] = [];
  const source = new ChangeSource(
    scriptedCollection([{ doc: { _id: { _data: 'F2' }, splitEvent: { fragment: 2, of: 2 }, operationType: 'update' } }], pipelines),
    { fullDocumentBeforeChange: 'off', pipeline: [], maxAwaitTimeMs: 50, batchSize: 10 },
  );
  source.open({ kind: 'now' });
  await assert.rejects(async () => {
    for (let i = 0; i < 20; i++) await source.tryNext();
  }, /fragment 2 of 2 of a split event arrived after 0/);
  await source.close();
  assert.deepEqual(pipelines, [[]]);
});
