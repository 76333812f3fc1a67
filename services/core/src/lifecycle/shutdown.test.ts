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
  shutdown.register('stop intake', () => void order.push(`intake (signal aborted: ${shutdown.signal.aborted})`));
  assert.equal(shutdown.signal.aborted, false);
  await shutdown.run(0);
  assert.deepEqual(order, ['intake (signal aborted: true)', 'flush', 'clients']);
  assert.equal(exitCode, 1);
});

test('a hanging step is cut off by the deadline: the process kills itself rather than exit (which could hang too)', async () => {
  const codes: number[] = [];
  let kills = 0;
  const shutdown = new Shutdown(logger, 50, (code) => codes.push(code), () => void kills++);
  shutdown.register('hang', () => new Promise<void>(() => {}));
  void shutdown.run(0);
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(kills, 1);
  assert.deepEqual(codes, []);
});

test('abort kills at once without running the steps', () => {
  const steps: string[] = [];
  let kills = 0;
  const shutdown = new Shutdown(logger, 1000, () => assert.fail('no exit'), () => void kills++);
  shutdown.register('close clients', () => void steps.push('clients'));
  shutdown.abort('client stuck');
  assert.equal(kills, 1);
  assert.deepEqual(steps, []);
});

test('abort really ends the process by SIGKILL, with a libuv pool thread still busy', async () => {
  const { spawnSync } = await import('node:child_process');
  const shutdownModule = new URL('./shutdown.js', import.meta.url).href;
  const loggerModule = new URL('../logging/logger.js', import.meta.url).href;
  // a pool thread busy for many seconds (pbkdf2, 20 M rounds) stands in for a stuck native call: process.exit would wait
  const script = `
    const { Shutdown } = await import(${JSON.stringify(shutdownModule)});
    const { createLogger } = await import(${JSON.stringify(loggerModule)});
    const { pbkdf2 } = await import('node:crypto');
    pbkdf2('x', 'y', 20_000_000, 64, 'sha512', () => undefined);
    setTimeout(() => new Shutdown(createLogger({ service: 'test' }), 1000).abort('stuck'), 100);`;
  const started = Date.now();
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20000 });
  assert.equal(result.signal, 'SIGKILL');
  assert.match(result.stdout, /stuck: killing the process/);
  assert.ok(Date.now() - started < 5000, 'killed at once, not after the busy thread');
});
