import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FileReadyEvent } from '@cdc/core';
import { fromFileReadyEvent, fromPolledPath, isSafeRelativePath } from './loadable-file.js';

test('a file-ready event becomes a loadable file with its checksums and time bounds', () => {
  const event: FileReadyEvent = {
    schema_version: 1,
    file_id: 'orders-cdc-p2-000000000100-000000000199',
    path: 'orders-cdc/dt=2025-11-26/orders-cdc-p2-000000000100-000000000199.parquet',
    topic: 'orders-cdc',
    partition: 2,
    first_offset: 100,
    last_offset: 199,
    rows: 98,
    bytes: 4096,
    md5: 'XUFAKrxLKna5cZ2REBfFkg==',
    crc32c: 'yZRlqg==',
    min_cluster_time: '2025-11-26T10:11:12.000Z',
    max_cluster_time: '2025-11-26T10:13:19.000Z',
    ops: { insert: 50, update: 40, replace: 3, delete: 5, snapshot: 0, snapshot_complete: 0 },
    dead_letters: 2,
    compression: 'ZSTD',
    writer: '@dsnp/parquetjs',
    created_at: '2026-01-01T00:00:00.000Z',
  };
  assert.deepEqual(fromFileReadyEvent(event), {
    fileId: event.file_id,
    path: event.path,
    topic: 'orders-cdc',
    partition: 2,
    firstOffset: 100,
    lastOffset: 199,
    rows: 98,
    md5: event.md5,
    crc32c: event.crc32c,
    bytes: 4096,
    location: null,
    generation: null,
    minClusterTime: event.min_cluster_time,
    maxClusterTime: event.max_cluster_time,
    readyAt: '2026-01-01T00:00:00.000Z',
    snapshotMarkers: 0,
    origin: 'event',
  });
});

test('a polled path carries its identity in its name; other names are ignored', () => {
  const file = fromPolledPath('orders-cdc/dt=2025-11-26/orders-cdc-p2-000000000100-000000000199.parquet');
  assert.equal(file?.topic, 'orders-cdc');
  assert.equal(file?.partition, 2);
  assert.equal(file?.firstOffset, 100);
  assert.equal(file?.lastOffset, 199);
  assert.equal(file?.md5, null);
  assert.equal(file?.readyAt, null);
  assert.equal(file?.snapshotMarkers, null, 'a polled file may hold a snapshot-complete marker');
  assert.equal(file?.origin, 'poll');
  assert.equal(fromPolledPath('orders-cdc/notes.parquet'), null);
});

test('event paths must stay inside the input directory', () => {
  assert.ok(isSafeRelativePath('t/dt=2025-11-26/t-p0-000000000000-000000000001.parquet'));
  for (const bad of ['/etc/x.parquet', '../x.parquet', 't/../../x.parquet', 't/./x.parquet', 't\\x.parquet', 't/x.csv', '..']) assert.ok(!isSafeRelativePath(bad), bad);
});
