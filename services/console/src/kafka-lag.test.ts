import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Admin } from '@cdc/core';
import { readGroupLag } from './kafka-lag.js';

test("a group's lag is the high watermark minus its committed offset, from the log start where it never committed", async () => {
  const asked: string[] = [];
  const admin = {
    fetchOffsets: async ({ groupId }: { groupId: string }) => {
      asked.push(groupId);
      return groupId === 'processor'
        ? [{ topic: 'orders-cdc', partitions: [{ partition: 0, offset: '7' }, { partition: 1, offset: '-1' }, { partition: 2, offset: '30' }] }]
        : [];
    },
    fetchTopicOffsets: async () => [
      { partition: 0, offset: '10', high: '10', low: '0' },
      { partition: 1, offset: '5', high: '5', low: '2' },
      { partition: 2, offset: '30', high: '30', low: '0' },
    ],
  } as unknown as Admin;
  assert.deepEqual(await readGroupLag(admin, ['processor', 'loader'], 1000), [{ group: 'processor', topic: 'orders-cdc', records: 3 + 3 + 0, partitions: 3 }]);
  assert.deepEqual(asked, ['processor', 'loader']);
});
