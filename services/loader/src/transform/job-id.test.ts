import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attemptJobId, loadJobId } from './job-id.js';

const identity = { dataset: 'cdc', table: 'orders_changes', topic: 'orders.cdc', partition: 2, firstOffset: 100, lastOffset: 199, md5: 'XUFAKrxLKna5cZ2REBfFkg==' };

test('the job id is derived from destination, source range and checksum, in valid characters', () => {
  const id = loadJobId(identity);
  assert.equal(id, 'cdc_load_cdc_orders_changes_orders_cdc_p2_100_199_5d41402abc4b2a76');
  assert.equal(loadJobId({ ...identity }), id, 'deterministic');
  assert.notEqual(loadJobId({ ...identity, md5: 'yZRlqg==AAAAAAAAAAAAAA' }), id, 'another file of the same range');
  assert.notEqual(loadJobId({ ...identity, dataset: 'cdc_test' }), id, 'another destination');
  assert.match(id, /^[A-Za-z0-9_-]+$/);
});

test('very long names are hashed so the id stays under 1024 characters', () => {
  const id = loadJobId({ ...identity, dataset: 'd'.repeat(1024), topic: 't'.repeat(249) });
  assert.ok(id.length < 100);
  assert.match(id, /^cdc_load_[0-9a-f]{32}_p2_100_199_5d41402abc4b2a76$/);
  assert.ok(attemptJobId(loadJobId({ ...identity, dataset: 'd'.repeat(700), topic: 't'.repeat(249) }), 99).length <= 1024);
});

test('attempt ids: the first is the id itself, later ones deterministic suffixes', () => {
  assert.equal(attemptJobId('x', 1), 'x');
  assert.equal(attemptJobId('x', 2), 'x_a2');
  assert.equal(attemptJobId('x', 10), 'x_a10');
});
