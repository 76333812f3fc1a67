import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { snapshotDeleteEventId } from '@cdc/core';
import { buildInsertSnapshotDeletes, buildMergeSnapshotDeletes, buildSnapshotSeenCount, deleteTimeOf, type SnapshotCompletion } from './snapshot-sql.js';

const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };
const completion: SnapshotCompletion = {
  eventId: 'e'.repeat(32),
  db: 'shop',
  coll: 'orders',
  instance: 'cdc-1',
  snapshotAt: { t: 1764151872, i: 7 },
  events: 41,
  marker: { topic: 'orders-cdc', partition: 2, offset: 900 },
};
const squash = (sql: string) => sql.replace(/\s+/g, ' ');

test('the deletes stand just before the snapshot start', () => {
  assert.deepEqual(deleteTimeOf({ t: 100, i: 7 }), { t: 100, i: 6 });
  assert.deepEqual(deleteTimeOf({ t: 100, i: 0 }), { t: 99, i: 0xffffffff });
});

test('the SQL event id of a delete is the one core computes (SHA-256 of the same text, 32 hex characters)', () => {
  const { params, query } = buildInsertSnapshotDeletes(names, completion);
  assert.match(query, /SUBSTR\(TO_HEX\(SHA256\(CONCAT\(@id_prefix, T\.document_id\)\)\), 1, 32\) AS event_id/);
  const documentId = '{"$numberInt":"4"}';
  const sql = createHash('sha256').update(`${String(params.id_prefix)}${documentId}`).digest('hex').slice(0, 32);
  assert.equal(sql, snapshotDeleteEventId('shop', 'orders', documentId, 'cdc-1', completion.snapshotAt));
});

test('deletes: current rows older than the snapshot that it did not see, not already deleted by it', () => {
  const { query, params, types } = buildInsertSnapshotDeletes(names, completion);
  const q = squash(query);
  assert.match(q, /^INSERT INTO `p\.cdc\.orders_changes` \(event_id, op, db, coll, document_id, cluster_time, .*, kafka_offset\) SELECT /);
  assert.match(q, /'delete' AS op, .*TIMESTAMP_SECONDS\(@delete_t\) AS cluster_time, @delete_i AS cluster_time_increment, .*TRUE AS snapshot, @instance AS source_instance, .*T\.document AS document_before/);
  assert.match(q, /FROM `p\.cdc\.orders_current` AS T WHERE T\.db = @db AND T\.coll = @coll AND \(T\.cluster_time < TIMESTAMP_SECONDS\(@snapshot_t\) OR \(T\.cluster_time = TIMESTAMP_SECONDS\(@snapshot_t\) AND T\.cluster_time_increment < @snapshot_i\)\)/);
  assert.match(q, /T\.document_id NOT IN \(SELECT document_id FROM `p\.cdc\.orders_changes` WHERE op = 'snapshot' AND db = @db AND coll = @coll AND source_instance = @instance AND cluster_time = TIMESTAMP_SECONDS\(@snapshot_t\) AND cluster_time_increment = @snapshot_i\)/);
  assert.match(q, /NOT EXISTS \(SELECT 1 FROM `p\.cdc\.orders_changes` AS C WHERE C\.op = 'delete' AND C\.snapshot .* AND C\.document_id = T\.document_id\)/, 'a retry inserts nothing twice');
  assert.deepEqual([params.snapshot_t, params.snapshot_i, params.delete_t, params.delete_i], [1764151872, 7, 1764151872, 6]);
  assert.deepEqual([params.marker_topic, params.marker_partition, params.marker_offset], ['orders-cdc', 2, 900], 'lineage: the marker record');
  assert.equal(types.snapshot_t, 'INT64');
  assert.doesNotMatch(query, /cdc-1|1764151872/, 'values travel as parameters');
});

test('the seen count and the MERGE of the deletes select the snapshot by instance and time', () => {
  assert.match(squash(buildSnapshotSeenCount(names, completion).query), /^SELECT COUNT\(DISTINCT document_id\) AS seen FROM `p\.cdc\.orders_changes` WHERE op = 'snapshot' AND .*source_instance = @instance/);
  const merge = squash(buildMergeSnapshotDeletes(names, completion).query);
  assert.match(merge, /^MERGE `p\.cdc\.orders_current` AS T USING \( SELECT DISTINCT D\.db, .* WHERE D\.op = 'delete' AND D\.snapshot AND .*D\.cluster_time = TIMESTAMP_SECONDS\(@delete_t\)/);
  assert.match(merge, /WHEN MATCHED AND \(S\.cluster_time > T\.cluster_time .*\) THEN DELETE$/, 'a row changed since the snapshot stays');
});
