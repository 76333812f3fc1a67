import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetriableError, ServiceError } from '../errors/errors.js';
import { backoffDelay, poll, retry } from './retry.js';

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

test('by default an error is retried when it says it is retriable, and thrown at once when it does not', async () => {
  let calls = 0;
  const result = await retry(
    async () => {
      if (++calls < 3) throw new RetriableError('broker away', { reason: 'broker' });
      return 'done';
    },
    { maxAttempts: 5, sleep: noSleep },
  );
  assert.equal(result, 'done');
  assert.equal(calls, 3);
  for (const permanent of [new ServiceError('bad file', { reason: 'invalid' }), new Error('not classified'), Object.assign(new Error('client'), { retriable: false })]) {
    calls = 0;
    await assert.rejects(
      retry(async () => {
        calls++;
        throw permanent;
      }, { maxAttempts: 5, sleep: noSleep }),
      (error) => error === permanent,
    );
    assert.equal(calls, 1, `${permanent.message}: one attempt`);
  }
  // the Kafka client's own errors carry the word too (KafkaJSError)
  calls = 0;
  await retry(
    async () => {
      if (++calls < 2) throw Object.assign(new Error('Broker: Not coordinator'), { retriable: true, code: 16 });
    },
    { maxAttempts: 2, sleep: noSleep },
  );
  assert.equal(calls, 2);
});

test('an abort during a backoff wait ends the wait at once and throws the last error', async () => {
  const controller = new AbortController();
  let calls = 0;
  const started = performance.now();
  const retried = retry(
    async () => {
      calls++;
      throw new RetriableError(`attempt ${calls}`, { reason: 'broker' });
    },
    { maxAttempts: 10, baseDelayMs: 60_000, maxDelayMs: 60_000, random: () => 1, signal: controller.signal, onRetry: () => setImmediate(() => controller.abort()) },
  );
  await assert.rejects(retried, /attempt 1/);
  assert.equal(calls, 1, 'no attempt after the abort');
  assert.ok(performance.now() - started < 10_000, 'the 60 s wait did not run out');
});

test('an aborted signal stops the retries after the failure in hand', async () => {
  let calls = 0;
  await assert.rejects(
    retry(async () => {
      calls++;
      throw new RetriableError('503', { reason: 'http-503' });
    }, { maxAttempts: 10, sleep: noSleep, signal: AbortSignal.abort() }),
    /503/,
  );
  assert.equal(calls, 1);
});

test('poll reads until the state is final, waiting longer each time up to the bound', async () => {
  const waits: number[] = [];
  const states = [undefined, 'RUNNING', 'RUNNING', 'RUNNING', 'DONE'];
  let reads = 0;
  const final = await poll(async () => states[reads++], (state) => state === 'DONE', {
    first: 'PENDING',
    intervalMs: 100,
    maxIntervalMs: 300,
    sleep: async (ms) => void waits.push(ms),
  });
  assert.equal(final, 'DONE');
  assert.equal(reads, 5, 'a state not known yet (undefined) is read again');
  assert.deepEqual(waits, [100, 200, 300, 300, 300]);
});

test('poll returns a final first state without reading; errors of the read are thrown', async () => {
  let reads = 0;
  const read = async () => {
    reads++;
    return 'DONE';
  };
  assert.equal(await poll(read, (s) => s === 'DONE', { first: 'DONE', intervalMs: 10, maxIntervalMs: 10, sleep: noSleep }), 'DONE');
  assert.equal(reads, 0);
  const failure = new Error('HTTP 500');
  await assert.rejects(
    poll(async () => Promise.reject(failure), () => true, { intervalMs: 10, maxIntervalMs: 10, sleep: noSleep }),
    (error) => error === failure,
  );
});

test('an abort during a poll wait ends it at once with the signal\'s reason', async () => {
  const controller = new AbortController();
  const reason = new Error('stopping');
  const started = performance.now();
  const polled = poll(async () => 'RUNNING', (s) => s === 'DONE', { first: 'RUNNING', intervalMs: 60_000, maxIntervalMs: 60_000, signal: controller.signal });
  setImmediate(() => controller.abort(reason));
  await assert.rejects(polled, (error) => error === reason);
  assert.ok(performance.now() - started < 10_000, 'the 60 s wait did not run out');
});
