import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withDeadline } from './deadline.js';
import { ClientStuckError, FatalError } from '../errors/errors.js';

test('a call that settles in time gives its result or its own error', async () => {
  assert.equal(await withDeadline('fast', 1000, async () => 42), 42);
  await assert.rejects(
    withDeadline('failing', 1000, async () => {
      throw new Error('broker said no');
    }),
    /broker said no/,
  );
});

test('a call that never settles ends in ClientStuckError naming it: fatal, not retriable, exit status 137', async () => {
  const started = Date.now();
  const error = await withDeadline('sendOffsets', 50, () => new Promise<never>(() => undefined)).catch((e: unknown) => e);
  assert.ok(error instanceof ClientStuckError && error instanceof FatalError);
  assert.match(error.message, /sendOffsets did not return within 50 ms/);
  assert.equal(error.retriable, false);
  assert.equal(error.exitCode, 137);
  assert.equal(error.reason, 'kafka-client-stuck');
  assert.ok(Date.now() - started >= 45);
});

test('a call that settles after its deadline does not surface as an unhandled rejection', async () => {
  let fail!: (error: Error) => void;
  const late = new Promise<never>((_, reject) => (fail = reject));
  await assert.rejects(withDeadline('late', 10, () => late), ClientStuckError);
  const unhandled: unknown[] = [];
  const listener = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', listener);
  fail(new Error('too late'));
  await new Promise((resolve) => setTimeout(resolve, 20));
  process.off('unhandledRejection', listener);
  assert.deepEqual(unhandled, []);
});
