import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFileReadyEvent, fileEventKey, fileReadyEvent, FileReadyEventSchema } from './file-event.js';

test('the file-ready event carries the range, checksums, time bounds and op counts, and validates', () => {
  const event = fileReadyEvent(
    {
      range: { topic: 'orders-cdc', partition: 2, firstOffset: 100, lastOffset: 199 },
      path: 'orders-cdc/dt=2025-11-26/orders-cdc-p2-000000000100-000000000199.parquet',
      rows: 98,
      checksums: { md5: 'XUFAKrxLKna5cZ2REBfFkg==', crc32c: 'yZRlqg==', bytes: 4096 },
      stats: { ops: { insert: 50, update: 40, replace: 3, delete: 5, snapshot: 0, snapshot_complete: 0 }, minClusterTime: 1764151872, maxClusterTime: 1764151999 },
      deadLetters: 2,
      compression: 'ZSTD',
      writer: '@dsnp/parquetjs',
    },
    new Date('2026-01-01T00:00:00Z'),
  );
  assert.equal(event.file_id, 'orders-cdc-p2-000000000100-000000000199');
  assert.equal(event.first_offset, 100);
  assert.equal(event.last_offset, 199);
  assert.equal(event.bytes, 4096);
  assert.equal(event.min_cluster_time, '2025-11-26T10:11:12.000Z');
  assert.equal(event.max_cluster_time, '2025-11-26T10:13:19.000Z');
  assert.equal(event.dead_letters, 2);
  assert.deepEqual(FileReadyEventSchema.parse(event), event);
  assert.deepEqual(decodeFileReadyEvent(JSON.stringify(event)), event);
  assert.throws(() => decodeFileReadyEvent(JSON.stringify({ ...event, schema_version: 2 })));
  assert.equal(fileEventKey('orders-cdc', 2), 'orders-cdc-2');
});
