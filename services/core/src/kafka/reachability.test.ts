import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../logging/logger.js';
import type { Admin } from './client.js';
import { watchKafkaReachability } from './reachability.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

test('Kafka silent for longer than the threshold is named, and cleared by the next answer', async () => {
  let now = 0;
  let up = true;
  let calls = 0;
  const admin = {
    listTopics: () => {
      calls++;
      return up ? Promise.resolve(['t']) : Promise.reject(new Error('Local: Broker transport failure'));
    },
  } as unknown as Admin;
  const watch = watchKafkaReachability(admin, logger, { notReadyAfterMs: 1000, everyMs: 10, now: () => now });
  try {
    await tick();
    assert.ok(calls >= 1, 'asked at once');
    assert.equal(watch.check(), null);
    up = false;
    now = 500;
    await tick();
    assert.equal(watch.check(), null, 'silent for less than the threshold');
    now = 1500;
    await tick();
    assert.equal(watch.check(), 'Kafka has not answered for 2 s (Local: Broker transport failure)');
    up = true;
    await tick();
    assert.equal(watch.check(), null, 'answers again');
  } finally {
    watch.stop();
  }
});
