import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groupAttempt, groupKey, stagingPrefix } from './job-id.js';

const a = { topic: 'orders.cdc', partition: 2, firstOffset: 100, lastOffset: 199, md5: 'XUFAKrxLKna5cZ2REBfFkg==' };
const b = { ...a, partition: 3, firstOffset: 0, lastOffset: 9 };

test('the group key depends on the files, not on their order', () => {
  assert.equal(groupKey([a, b]), groupKey([b, a]));
  assert.match(groupKey([a, b]), /^[0-9a-f]{16}$/);
  assert.notEqual(groupKey([a]), groupKey([a, b]), 'another group');
  assert.notEqual(groupKey([a]), groupKey([{ ...a, md5: 'yZRlqg==AAAAAAAAAAAAAA' }]), 'another file of the same range');
});

test('each attempt gets its own staging table and job id, in valid characters, found by the staging prefix', () => {
  const first = groupAttempt('orders_changes', [a, b], 'n1');
  assert.equal(first.stagingTable, `orders_changes__stage_${groupKey([a, b])}_n1`);
  assert.ok(first.stagingTable.startsWith(stagingPrefix('orders_changes')));
  assert.match(first.jobId, /^cdc_group_orders_changes_[0-9a-f]{16}_n1$/);
  const second = groupAttempt('orders_changes', [a, b]);
  assert.notEqual(second.stagingTable, groupAttempt('orders_changes', [a, b]).stagingTable, 'a random nonce by default');
  assert.equal(second.key, first.key);
});
