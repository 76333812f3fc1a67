import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Timestamp, type ChangeStreamDocument } from 'mongodb';
import { Registry } from 'prom-client';
import { createLogger, decodeSnapshotComplete } from '@cdc/core';
import { createCdcMetrics } from '../metrics.js';
import { CaptureScope } from './capture-scope.js';
import { scopeConfig } from './fixtures/scope-config.js';
import { ScopeCollections, type ScopeCollectionsSettings } from './scope-collections.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const scope = new CaptureScope(scopeConfig({ CDC_COLLECTION_EXCLUDE: 'shop\\.secret' }));

function collectionsOf(settings: Partial<ScopeCollectionsSettings> = {}) {
  const made: string[] = [];
  const collections = new ScopeCollections(
    scope,
    { snapshotMode: 'initial', onStreamEnd: 'stop', droppedRows: 'delete', topicTemplate: '{coll}-cdc', instance: 'cdc-0', maxMessageBytes: 1_000_000, ...settings },
    async (topics) => void made.push(...topics),
    createCdcMetrics(new Registry()),
    logger,
  );
  return { collections, made };
}

const event = (coll: string, operationType = 'insert', extra: object = {}) =>
  ({ _id: { _data: '01' }, operationType, ns: { db: 'shop', coll }, clusterTime: new Timestamp({ t: 100, i: 5 }), documentKey: { _id: 1 }, ...extra }) as unknown as ChangeStreamDocument;

test('a new collection: its first event makes its topic and notes a snapshot, applied once its batch commits; never noted twice', async () => {
  const { collections, made } = collectionsOf();
  assert.equal(await collections.topicOf(event('orders')), 'orders-cdc');
  assert.equal(await collections.topicOf(event('orders')), 'orders-cdc');
  assert.equal(await collections.topicOf(event('secret')), null, 'excluded');
  assert.deepEqual(made, ['orders-cdc']);
  assert.equal(collections.nextSnapshot(), null, 'nothing applied before its batch commits');
  const noted = collections.takeNoted();
  assert.equal(await collections.topicOf(event('orders')), 'orders-cdc');
  assert.equal(collections.takeNoted().size, 0, 'handed over, not yet applied: still not new');
  await collections.apply(noted);
  assert.deepEqual(collections.nextSnapshot(), ['shop.orders', { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0 }]);
  collections.snapshotProgress('shop.orders', { phase: 'streaming' });
  assert.deepEqual(collections.snapshot(), { 'shop.orders': { phase: 'streaming' } });
});

test('a drop ends that collection (stop: its later events skipped) with the marker that deletes its rows, one step after the drop', async () => {
  const { collections } = collectionsOf();
  await collections.found(['shop.orders']);
  const [marker] = collections.collectionEnded(event('orders', 'drop'));
  const value = JSON.parse(String(marker!.out.message.value)) as { op: string; cluster_time: unknown; document: string };
  assert.deepEqual([marker!.out.topic, value.op, value.cluster_time], ['orders-cdc', 'snapshot_complete', { t: 100, i: 6 }]);
  assert.equal(decodeSnapshotComplete(value.document).snapshot_events, 0);
  await collections.apply(collections.takeNoted());
  assert.deepEqual(collections.snapshot(), { 'shop.orders': { phase: 'stopped' } });
  assert.equal(await collections.topicOf(event('orders')), null, 'stopped: not captured');
  assert.deepEqual(collections.collectionEnded(event('orders', 'drop')), [], 'ended once');
});

test('rows kept, reopen: no marker, and a collection of that name again is new; a rename into the scope is new at once', async () => {
  const { collections } = collectionsOf({ droppedRows: 'keep', onStreamEnd: 'reopen' });
  await collections.found(['shop.orders']);
  assert.deepEqual(collections.collectionEnded(event('orders', 'rename', { to: { db: 'shop', coll: 'orders_v2' } })), []);
  await collections.apply(collections.takeNoted());
  assert.equal(collections.snapshot()['shop.orders']!.phase, 'dropped');
  assert.equal(collections.snapshot()['shop.orders_v2']!.phase, 'snapshot', 'its documents came without events');
  await collections.topicOf(event('orders'));
  await collections.apply(collections.takeNoted());
  assert.equal(collections.snapshot()['shop.orders']!.phase, 'snapshot', 're-created: new again');
});

test("the collections found at a start and those a checkpoint restores have their topics made in one call each", async () => {
  const calls: string[][] = [];
  const collections = new ScopeCollections(
    scope,
    { snapshotMode: 'initial', onStreamEnd: 'stop', droppedRows: 'delete', topicTemplate: '{coll}-cdc', instance: 'cdc-0', maxMessageBytes: 1_000_000 },
    async (topics) => void calls.push(topics),
    createCdcMetrics(new Registry()),
    logger,
  );
  await collections.restore({ 'shop.a': { phase: 'streaming' }, 'shop.b': { phase: 'stopped' }, 'shop.c': { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0 } });
  assert.equal(await collections.found(Array.from({ length: 50 }, (_, i) => `shop.n${i}`).concat(['shop.a'])), 50);
  assert.equal(calls.length, 2);
  assert.deepEqual(calls[0], ['a-cdc', 'c-cdc'], 'a stopped collection gets no topic');
  assert.equal(calls[1]!.length, 50);
});

test("a filtered re-snapshot keeps its filter through each chunk's progress; the status shows events, their rate and the resume point's age", async () => {
  const { collections } = collectionsOf();
  await collections.restore({ 'shop.orders': { phase: 'streaming' } });
  collections.streamed('shop.orders', new Map([['insert', 3], ['update', 2]]), { t: 100, i: 5 });
  const [shown] = collections.status({ t: Math.floor(Date.now() / 1000) - 30, i: 1 });
  assert.equal(shown?.events, 5);
  assert.ok(shown!.events_per_second > 0);
  assert.equal(shown?.last_event_cluster_time, new Date(100_000).toISOString());
  assert.ok(shown!.resume_point_age_seconds! >= 30 && shown!.resume_point_age_seconds! < 40, `${shown!.resume_point_age_seconds}`);
  assert.equal(collections.requestResnapshot('shop.orders', '{"status":"open"}'), 'started');
  collections.snapshotProgress('shop.orders', { phase: 'snapshot', snapshot_at: { t: 101, i: 1 }, last_id: '9', events: 4 });
  assert.deepEqual(collections.snapshot()['shop.orders'], { phase: 'snapshot', snapshot_at: { t: 101, i: 1 }, last_id: '9', events: 4, filter: '{"status":"open"}' }, 'what the checkpoint records');
  assert.equal(collections.status()[0]?.snapshot?.filter, '{"status":"open"}');
  collections.snapshotProgress('shop.orders', { phase: 'streaming' });
  assert.deepEqual(collections.snapshot()['shop.orders'], { phase: 'streaming' }, 'done: the filter goes with the copy');
});
