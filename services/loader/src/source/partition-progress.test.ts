import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PartitionProgress } from './partition-progress.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function recorder() {
  const commits: number[] = [];
  const failures: number[] = [];
  const listener = {
    committable: async (next: number) => {
      commits.push(next);
    },
    failed: (offset: number) => failures.push(offset),
  };
  return { commits, failures, listener };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('records settling out of order are committed as the settled prefix grows, once per step, in order', async () => {
  const { commits, listener } = recorder();
  const progress = new PartitionProgress(listener);
  const records = [10, 11, 12, 13].map((offset) => ({ offset, ...deferred() }));
  for (const r of records) progress.track(r.offset, r.promise);
  records[1]!.resolve();
  records[2]!.resolve();
  await tick();
  assert.deepEqual(commits, [], 'nothing before the first record settles');
  records[0]!.resolve();
  await tick();
  await progress.settled();
  assert.deepEqual(commits, [13], 'the prefix 10..12 in one commit');
  assert.equal(progress.size, 1);
  records[3]!.resolve();
  await tick();
  await progress.settled();
  assert.deepEqual(commits, [13, 14]);
  assert.equal(progress.size, 0);
});

test('a failed record stops the tracker: the prefix before it is committed, nothing after it, the failure reported once', async () => {
  const { commits, failures, listener } = recorder();
  const progress = new PartitionProgress(listener);
  const records = [5, 6, 7].map((offset) => ({ offset, ...deferred() }));
  for (const r of records) progress.track(r.offset, r.promise);
  records[2]!.resolve();
  records[0]!.resolve();
  records[1]!.reject(new Error('load failed'));
  await tick();
  await progress.settled();
  assert.deepEqual(commits, [6]);
  assert.deepEqual(failures, [6]);
  records[2]!.resolve();
  await tick();
  assert.deepEqual(failures, [6], 'reported once');
});

test('a closed tracker (partition revoked) commits nothing more', async () => {
  const { commits, listener } = recorder();
  const progress = new PartitionProgress(listener);
  const records = [1, 2].map((offset) => ({ offset, ...deferred() }));
  for (const r of records) progress.track(r.offset, r.promise);
  records[0]!.resolve();
  await tick();
  await progress.settled();
  assert.deepEqual(commits, [2]);
  progress.close();
  records[1]!.resolve();
  await tick();
  await progress.settled();
  assert.deepEqual(commits, [2]);
});
