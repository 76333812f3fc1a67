import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../logging/logger.js';
import { Shutdown } from './shutdown.js';

const logger = createLogger({ service: 'test', level: 'silent' });

test('steps run in reverse order, failures do not stop later steps', async () => {
  const order: string[] = [];
  let exitCode = -1;
  const shutdown = new Shutdown(logger, 1000, (code) => (exitCode = code));
  shutdown.register('close clients', () => void order.push('clients'));
  shutdown.register('flush', async () => {
    order.push('flush');
    throw new Error('flush failed');
  });
  shutdown.register('stop intake', () => void order.push('intake'));
  await shutdown.run(0);
  assert.deepEqual(order, ['intake', 'flush', 'clients']);
  assert.equal(exitCode, 1);
});

test('a hanging step is cut off by the deadline', async () => {
  const codes: number[] = [];
  const shutdown = new Shutdown(logger, 50, (code) => codes.push(code));
  shutdown.register('hang', () => new Promise<void>(() => {}));
  void shutdown.run(0);
  await new Promise((r) => setTimeout(r, 120));
  assert.deepEqual(codes, [1]);
});
