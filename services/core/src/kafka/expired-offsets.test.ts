import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../logging/logger.js';
import type { Admin } from './client.js';
import { findExpiredOffsets, offsetsStillInLog } from './expired-offsets.js';

// Committed: p0 below its log start, p1 at it, p2 never committed (-1) on a log that starts later.
const admin = {
  fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: '5' }, { partition: 1, offset: '40' }, { partition: 2, offset: '-1' }] }],
  fetchTopicOffsets: async () => [
    { partition: 0, offset: '90', high: '90', low: '12' },
    { partition: 1, offset: '90', high: '90', low: '40' },
    { partition: 2, offset: '90', high: '90', low: '30' },
  ],
} as unknown as Admin;

test('only a committed offset below the log start is expired; an uncommitted partition starts at the beginning', async () => {
  assert.deepEqual(await findExpiredOffsets(admin, 'g', ['t']), [{ topic: 't', partition: 0, committed: 5, logStart: 12 }]);
});

test('with an expired offset the service is told not to consume, with the reason on /readyz and the records gone as a metric', async () => {
  const registry = new Registry();
  const checks = new Map<string, () => string | null>();
  const settings = { groupId: 'g', topics: ['t'], registry, metricName: 'test_offsets_expired_records', logger: createLogger({ service: 'test', level: 'silent' }), addReadinessCheck: (name: string, check: () => string | null) => checks.set(name, check) };
  assert.equal(await offsetsStillInLog(admin, settings), false);
  assert.match(checks.get('offsets')?.() ?? '', /^consumer group g has offsets below the log start .*: t\/0: committed 5, log starts at 12 \(7 records gone\)\. .*--group g --topic t --reset-offsets --to-earliest/);
  assert.match(await registry.metrics(), /test_offsets_expired_records\{topic="t",partition="0"\} 7/);
  const fine = { ...admin, fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 1, offset: '40' }] }] } as unknown as Admin;
  assert.equal(await offsetsStillInLog(fine, { ...settings, registry: new Registry() }), true);
});
