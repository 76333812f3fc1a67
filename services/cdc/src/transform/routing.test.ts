import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignCollections, parseNamespace, streamIdFor, topicFor } from './routing.js';
import { BatchBuffer } from './batch.js';
import { eventToMessage } from './to-message.js';
import { snapshotToEnvelope } from './to-envelope.js';

test('default topic naming maps shop.orders to orders-cdc', () => {
  assert.equal(topicFor('{coll}-cdc', 'shop', 'orders'), 'orders-cdc');
  assert.equal(topicFor('{db}.{coll}.changes', 'shop', 'orders'), 'shop.orders.changes');
  assert.deepEqual(parseNamespace('shop.orders.archive'), { db: 'shop', coll: 'orders.archive' });
});

test('collections are split between instances without overlap or gap, whatever the input order', () => {
  const all = ['shop.orders', 'shop.customers', 'crm.leads', 'shop.items', 'shop.orders'];
  const parts = [0, 1, 2].map((i) => assignCollections(all, i, 3));
  assert.deepEqual(parts.flat().sort(), ['crm.leads', 'shop.customers', 'shop.items', 'shop.orders']);
  assert.deepEqual(assignCollections([...all].reverse(), 1, 3), parts[1]);
  assert.equal(streamIdFor('shop.orders', 'hash', 1, 4), 'shop.orders#1of4');
  assert.equal(streamIdFor('shop.orders', 'collection', 1, 4), 'shop.orders');
});

test('batches close on count or bytes', () => {
  const byCount = new BatchBuffer<number>(2, 1000);
  byCount.add(1, 10);
  assert.equal(byCount.full, false);
  byCount.add(2, 10);
  assert.equal(byCount.full, true);
  assert.deepEqual(byCount.take(), [1, 2]);
  assert.equal(byCount.length, 0);
  const byBytes = new BatchBuffer<number>(100, 15);
  byBytes.add(1, 10);
  byBytes.add(2, 10);
  assert.equal(byBytes.full, true);
});

test('messages are keyed by document and oversize events become dead letters', () => {
  const event = snapshotToEnvelope('shop', 'orders', { _id: 7, blob: 'x'.repeat(5000) }, { t: 1, i: 1 }, { instance: 'cdc-0' });
  const fits = eventToMessage(event, 'orders-cdc', 1_000_000);
  assert.ok(fits.ok);
  assert.equal(fits.out.topic, 'orders-cdc');
  assert.equal(fits.out.message.key, '{"$numberInt":"7"}');
  assert.equal(fits.out.message.headers!.event_id, event.event_id);
  const tooBig = eventToMessage(event, 'orders-cdc', 1000);
  assert.equal(tooBig.ok, false);
  assert.equal(tooBig.out.topic, 'orders-cdc.dlq');
  const dead = JSON.parse(String(tooBig.out.message.value));
  assert.equal(dead.reason, 'oversize');
  assert.equal(dead.document_id, '{"$numberInt":"7"}');
  assert.ok(!String(tooBig.out.message.value).includes('xxxxx'), 'the oversize document itself is not copied');
});
