import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '@cdc/core';
import { createCdcMetrics } from '../metrics.js';
import { OplogWatch, standingOf, type OplogWindow } from './oplog-window.js';

const window: OplogWindow = { oldest: { t: 1000, i: 5 }, newest: { t: 1100, i: 1 } };

test('a resume point stands in the window by its age behind the newest entry; older than the oldest is lost', () => {
  assert.deepEqual(standingOf(window, { t: 1090, i: 1 }), { ageSeconds: 10, shareOfWindow: 0.1, lost: false });
  assert.deepEqual(standingOf(window, { t: 1040, i: 1 }), { ageSeconds: 60, shareOfWindow: 0.6, lost: false });
  assert.deepEqual(standingOf(window, { t: 1000, i: 5 }), { ageSeconds: 100, shareOfWindow: 1, lost: false }, 'the oldest entry itself can still be resumed from');
  assert.deepEqual(standingOf(window, { t: 1000, i: 4 }), { ageSeconds: 100, shareOfWindow: 1, lost: true });
  const oneSecond: OplogWindow = { oldest: { t: 1000, i: 5 }, newest: { t: 1000, i: 900 } };
  assert.deepEqual(standingOf(oneSecond, { t: 1000, i: 4 }), { ageSeconds: 0, shareOfWindow: 1, lost: true }, 'within one second only the exact order tells');
  assert.equal(standingOf(oneSecond, { t: 1000, i: 6 }).lost, false);
});

test('the watch sets the metrics, warns once per stream when its resume point passes half the window, and says so on /readyz', async () => {
  const metrics = createCdcMetrics(new Registry());
  const warnings: unknown[] = [];
  const logger = createLogger({ service: 'test', level: 'silent' });
  logger.warn = ((obj: unknown) => warnings.push(obj)) as typeof logger.warn;
  let resumePoint = { t: 1090, i: 1 };
  const watch = new OplogWatch({ read: async () => window, streams: () => [{ streamId: 'shop.idle', resumePoint }, { streamId: 'shop.new', resumePoint: null }], metrics, logger });
  await watch.check();
  assert.equal(warnings.length, 0);
  assert.equal((await metrics.oplogWindow.get()).values[0]?.value, 100);
  assert.deepEqual((await metrics.resumePointAge.get()).values.map((v) => [v.labels.stream, v.value]), [['shop.idle', 10]]);
  resumePoint = { t: 1040, i: 1 };
  await watch.check();
  await watch.check();
  assert.equal(warnings.length, 1, 'one warning while it stays past half the window');
  assert.deepEqual(watch.detail, {
    oplog: { oldest: window.oldest, newest: window.newest, window_seconds: 100 },
    streams: { 'shop.idle': { resume_point: resumePoint, age_seconds: 60, share_of_window: 0.6, lost: false } },
  });
  resumePoint = { t: 1099, i: 1 };
  await watch.check();
  resumePoint = { t: 1000, i: 1 };
  await watch.check();
  assert.equal(warnings.length, 2, 'warned again after it had recovered');
});

test('an oplog that cannot be read is reported, once, and does not throw', async () => {
  const warnings: unknown[] = [];
  const logger = createLogger({ service: 'test', level: 'silent' });
  logger.warn = ((obj: unknown) => warnings.push(obj)) as typeof logger.warn;
  const watch = new OplogWatch({ read: async () => Promise.reject(new Error('not authorized on local')), streams: () => [], metrics: createCdcMetrics(new Registry()), logger });
  await watch.check();
  await watch.check();
  assert.equal(warnings.length, 1);
  assert.deepEqual(watch.detail, { oplog: 'not readable: not authorized on local' });
});
