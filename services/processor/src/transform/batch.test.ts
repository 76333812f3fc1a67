import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OpenBatch, batchStats } from './batch.js';
import { toRow } from './to-row.js';
import { sampleEvent } from '../test-support/events.js';
import type { DeadLetter } from './dead-letter.js';

const limits = { maxRows: 3, maxBytes: 1000, maxAgeMs: 5000 };
const row = (offset: number, op: Parameters<typeof sampleEvent>[0] = 'insert', t = 1764151872) =>
  toRow(sampleEvent(op, offset, { t, i: 1 }), { topic: 't', partition: 0, offset });
const deadLetter = (offset: number): DeadLetter => ({ reason: 'not_json', error: 'x', topic: 't', partition: 0, offset, key: null, value: Buffer.from('x'), timestamp: '0' });

test('an empty batch never closes, whatever its age', () => {
  const batch = new OpenBatch(0, 0);
  assert.equal(batch.isEmpty, true);
  assert.equal(batch.closeReason(limits, 1e9), null);
});

test('closes on row count', () => {
  const batch = new OpenBatch(0, 0);
  batch.addRow(row(10), 1);
  batch.addRow(row(11), 1);
  assert.equal(batch.closeReason(limits, 1), null);
  batch.addRow(row(12), 1);
  assert.equal(batch.closeReason(limits, 1), 'rows');
});

test('closes on bytes, dead letters included; dead letters do not count as rows', () => {
  const batch = new OpenBatch(0, 0);
  for (let i = 0; i < 5; i++) batch.addDeadLetter(deadLetter(i), 100);
  assert.equal(batch.closeReason(limits, 1), null, '5 dead letters are not 3 rows');
  batch.addDeadLetter(deadLetter(5), 500);
  assert.equal(batch.closeReason(limits, 1), 'bytes');
});

test('closes on age measured from when it was opened', () => {
  const batch = new OpenBatch(0, 1000);
  batch.addRow(row(1), 1);
  assert.equal(batch.closeReason(limits, 5999), null);
  assert.equal(batch.closeReason(limits, 6000), 'age');
});

test('tracks the covered offset range across rows and dead letters, and refuses going backwards', () => {
  const batch = new OpenBatch(0, 0);
  batch.addDeadLetter(deadLetter(5), 1);
  batch.addRow(row(9), 1);
  batch.addDeadLetter(deadLetter(12), 1);
  assert.equal(batch.firstOffset, 5);
  assert.equal(batch.lastOffset, 12);
  assert.throws(() => batch.addRow(row(12), 1), /not after/);
});

test('stats count operations and find the cluster time bounds', () => {
  const stats = batchStats([row(1, 'insert', 200), row(2, 'update', 100), row(3, 'update', 300), row(4, 'snapshot', 150)]);
  assert.deepEqual(stats.ops, { insert: 1, update: 2, replace: 0, delete: 0, snapshot: 1, snapshot_complete: 0 });
  assert.equal(stats.minClusterTime, 100);
  assert.equal(stats.maxClusterTime, 300);
  assert.equal(batchStats([]).minClusterTime, null);
});
