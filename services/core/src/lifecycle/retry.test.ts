import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, retry } from './retry.js';

const noSleep = async () => undefined;

test('transient errors are retried with growing, capped, jittered delays', async () => {
  const delays: number[] = [];
  let calls = 0;
  const result = await retry(
    async () => {
      if (++calls < 4) throw new Error('503');
      return 'done';
    },
    { isTransient: () => true, maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 250, random: () => 1, sleep: noSleep, onRetry: ({ delayMs }) => delays.push(delayMs) },
  );
  assert.equal(result, 'done');
  assert.equal(calls, 4);
  assert.deepEqual(delays, [100, 200, 250]);
  assert.equal(backoffDelay(3, 100, 10000, () => 0.5), 200);
});

test('a permanent error is thrown at once; attempts are bounded', async () => {
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new Error('400');
    }, { isTransient: () => false, maxAttempts: 5, sleep: noSleep }),
    /400/,
  );
  assert.equal(calls, 1);
  calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new Error('503');
    }, { isTransient: () => true, maxAttempts: 3, sleep: noSleep }),
    /503/,
  );
  assert.equal(calls, 3);
});

test('shouldStop ends the retries', async () => {
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new Error('503');
    }, { isTransient: () => true, maxAttempts: 10, sleep: noSleep, shouldStop: () => calls >= 2 }),
  );
  assert.equal(calls, 2);
});
