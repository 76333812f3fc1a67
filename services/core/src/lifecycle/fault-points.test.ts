import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../logging/logger.js';
import { crashHooks } from './fault-points.js';

const logger = createLogger({ service: 'test', level: 'silent' });

test('a crash hook kills at the N-th pass of its own point only; a hook at 0 never does', () => {
  const kills: number[] = [];
  let pass = 0;
  const faults = crashHooks({ rename: 'X_TEST_CRASH_AFTER_RENAME', commit: 'X_TEST_CRASH_AFTER_COMMIT' }, { X_TEST_CRASH_AFTER_RENAME: 3, X_TEST_CRASH_AFTER_COMMIT: 0 }, logger, () => void kills.push(pass));
  for (pass = 1; pass <= 5; pass++) {
    faults.reached('commit');
    faults.reached('rename');
  }
  assert.deepEqual(kills, [3]);
});

test('a crash hook must be a declared setting', () => {
  assert.throws(() => crashHooks({ rename: 'X_TEST_CRASH_AFTER_RENAMES' }, { X_TEST_CRASH_AFTER_RENAME: 0 }, logger), /X_TEST_CRASH_AFTER_RENAMES of rename is not a declared setting/);
});
