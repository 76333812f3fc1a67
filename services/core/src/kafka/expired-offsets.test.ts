import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger } from '../logging/logger.js';
import { haltedPartitions, type Admin } from './client.js';
import { ExpiredOffsetsGuard, findExpiredOffsets } from './expired-offsets.js';

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
  assert.equal(await new ExpiredOffsetsGuard(admin, settings).offsetsStillInLog(), false);
  assert.match(checks.get('offsets')?.() ?? '', /^consumer group g has offsets below the log start .*: t\/0: committed 5, log starts at 12 \(7 records gone\)\. .*--group g --topic t --reset-offsets --to-earliest/);
  assert.match(await registry.metrics(), /test_offsets_expired_records\{topic="t",partition="0"\} 7/);
  const fine = { ...admin, fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 1, offset: '40' }] }] } as unknown as Admin;
  assert.equal(await new ExpiredOffsetsGuard(fine, { ...settings, registry: new Registry() }).offsetsStillInLog(), true);
});

test('partitions halted while consuming: one below its log start stops the consumer first, then the same report; one at it is left alone', async () => {
  const registry = new Registry();
  const checks = new Map<string, () => string | null>();
  const order: string[] = [];
  const watched = { ...admin, fetchOffsets: async () => (order.push('offsets read'), admin.fetchOffsets({ groupId: 'g', topics: ['t'] })) } as unknown as Admin;
  const guard = new ExpiredOffsetsGuard(watched, { groupId: 'g', topics: ['t'], registry, metricName: 'test_offsets_expired_records', logger: createLogger({ service: 'test', level: 'silent' }), addReadinessCheck: (name, check) => checks.set(name, check) });
  const stop = async () => void order.push('consumer stopped');
  await guard.checkHalted([{ topic: 't', partition: 1, next: 40 }], stop);
  assert.deepEqual(order, [], 'a partition halted at its log start (being assigned) is no loss');
  await Promise.all([guard.checkHalted([{ topic: 't', partition: 0, next: 6 }], stop), guard.checkHalted([{ topic: 't', partition: 0, next: 6 }], stop)]);
  assert.deepEqual(order, ['consumer stopped', 'offsets read'], 'stopped once, before the offsets are read');
  assert.match(checks.get('offsets')?.() ?? '', /t\/0: committed 5, log starts at 12 \(7 records gone\)/);
  assert.match(await registry.metrics(), /test_offsets_expired_records\{topic="t",partition="0"\} 7/);
});

test('a position below the log start that the committed offsets no longer show is still reported, with the reset command', async () => {
  const checks = new Map<string, () => string | null>();
  const caughtUp = { ...admin, fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 1, offset: '40' }] }] } as unknown as Admin;
  const guard = new ExpiredOffsetsGuard(caughtUp, { groupId: 'g', topics: ['t'], registry: new Registry(), metricName: 'test_offsets_expired_records', logger: createLogger({ service: 'test', level: 'silent' }), addReadinessCheck: (name, check) => checks.set(name, check) });
  await guard.checkHalted([{ topic: 't', partition: 2, next: 3 }], async () => undefined);
  assert.match(checks.get('offsets')?.() ?? '', /a fetch position below the log start of t\. .*--group g --topic t --reset-offsets --to-earliest/);
});

test("librdkafka's statistics: assigned partitions in fetch state none with a known next offset are halted", () => {
  const partition = (n: number, fields: object) => ({ partition: n, desired: true, fetch_state: 'active', app_offset: -1001, committed_offset: -1001, ...fields });
  const report = JSON.stringify({
    topics: {
      t: {
        partitions: {
          '0': partition(0, { fetch_state: 'none', app_offset: 6, committed_offset: 5 }),
          '1': partition(1, { fetch_state: 'none', committed_offset: 7 }),
          '2': partition(2, { fetch_state: 'none' }),
          '3': partition(3, { app_offset: 9 }),
          '4': partition(4, { desired: false, fetch_state: 'none', committed_offset: 1 }),
          '-1': partition(-1, { fetch_state: 'none', committed_offset: 1 }),
        },
      },
    },
  });
  assert.deepEqual(haltedPartitions(report), [
    { topic: 't', partition: 0, next: 6 },
    { topic: 't', partition: 1, next: 7 },
  ]);
});
