import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Collection } from 'mongodb';
import { MongoServerError } from 'mongodb';
import { ChangeSource, StreamPosition, isEventTooLarge } from './change-source.js';

/**
 * A collection whose change stream replays a script of getMore results: changes, or an empty batch with the
 * postBatchResumeToken the driver then reports as its resumeToken.
 */
function scriptedCollection(script: ({ change: string } | { empty: string })[]): Collection {
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
      resumeToken = { _data: step.change };
      return { _id: { _data: step.change }, operationType: 'insert' };
    },
    async close() {},
  };
  return { watch: () => stream } as unknown as Collection;
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
