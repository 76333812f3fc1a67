import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInsertNew, buildMergeGroup, buildRangeCount, currentStateQuery, duplicateCountQuery, newerThan } from './sql.js';

const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };
const file = { topic: 'orders-cdc', partition: 3, firstOffset: 100, lastOffset: 199 };
const bounds = { minClusterTime: '2025-11-26T10:11:12.000Z', maxClusterTime: '2025-11-26T10:13:00.000Z' };
const squash = (sql: string) => sql.replace(/\s+/g, ' ');

test('the insert copies the staged group, skipping records already in the changes table and repeated ones', () => {
  const { query, params, types } = buildInsertNew(names, 'orders_changes__stage_x', bounds);
  const q = squash(query);
  assert.match(q, /^INSERT INTO `p\.cdc\.orders_changes` \(event_id, op, db, .*, kafka_offset\) SELECT event_id, op, db, /);
  assert.match(q, /kafka_offset FROM `p\.cdc\.orders_changes__stage_x` AS S WHERE NOT EXISTS \( SELECT 1 FROM `p\.cdc\.orders_changes` AS C WHERE C\.kafka_topic = S\.kafka_topic AND C\.kafka_partition = S\.kafka_partition AND C\.kafka_offset = S\.kafka_offset AND C\.cluster_time BETWEEN @min_cluster_time AND @max_cluster_time \)/);
  assert.match(q, /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY kafka_topic, kafka_partition, kafka_offset ORDER BY event_id\) = 1$/);
  assert.deepEqual(types, { min_cluster_time: 'TIMESTAMP', max_cluster_time: 'TIMESTAMP' });
  assert.equal((params.min_cluster_time as Date).toISOString(), bounds.minClusterTime);
  assert.doesNotMatch(query, /2025-11-26/, 'values travel as parameters, never in the SQL text');
  const unbounded = buildInsertNew(names, 'orders_changes__stage_x', null);
  assert.doesNotMatch(unbounded.query, /@min_cluster_time/);
  assert.deepEqual(unbounded.params, {});
});

test('the presence check counts the distinct offsets of a file range', () => {
  const { query, params } = buildRangeCount(names, file);
  assert.match(squash(query), /SELECT COUNT\(DISTINCT kafka_offset\) AS present FROM `p\.cdc\.orders_changes` WHERE kafka_topic = @topic AND kafka_partition = @partition AND kafka_offset BETWEEN @first_offset AND @last_offset/);
  assert.deepEqual(params, { topic: 'orders-cdc', partition: 3, first_offset: 100, last_offset: 199 });
});

test('the MERGE source: the staged group, deduplicated by event_id, newest state-carrying change per document', () => {
  const q = squash(buildMergeGroup(names, 'orders_changes__stage_x', bounds).query);
  assert.match(q, /SELECT db, coll, document_id, document, op, event_id, .* FROM `p\.cdc\.orders_changes__stage_x` WHERE op != 'snapshot_complete' AND NOT/);
  assert.match(q, /NOT \(op = 'update' AND document IS NULL\)/, 'updates without a document are not state');
  assert.match(q, /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY event_id ORDER BY kafka_offset\) = 1/);
  assert.match(q, /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY db, coll, document_id ORDER BY cluster_time DESC, cluster_time_increment DESC, IF\(snapshot, 0, 1\) DESC, kafka_offset DESC\) = 1/);
  assert.match(q, /ON T\.db = S\.db AND T\.coll = S\.coll AND T\.document_id = S\.document_id/);
});

test('the MERGE is guarded: only a newer change updates or deletes; no insert behind a newer delete', () => {
  const q = squash(buildMergeGroup(names, 'orders_changes__stage_x', bounds).query);
  const newer = newerThan('S', 'T');
  assert.ok(q.includes(`WHEN MATCHED AND S.op = 'delete' AND ${newer} THEN DELETE`));
  assert.ok(q.includes(`WHEN MATCHED AND S.op != 'delete' AND ${newer} THEN UPDATE SET document = S.document, op = S.op, event_id = S.event_id`));
  assert.match(q, /updated_at = CURRENT_TIMESTAMP\(\)/);
  assert.match(q, /WHEN NOT MATCHED AND S\.op != 'delete' AND \(S\.deleted_cluster_time IS NULL OR S\.cluster_time > S\.deleted_cluster_time OR \(S\.cluster_time = S\.deleted_cluster_time AND S\.cluster_time_increment > S\.deleted_increment\)\) AND \(S\.emptied_cluster_time IS NULL OR S\.cluster_time > S\.emptied_cluster_time OR \(S\.cluster_time = S\.emptied_cluster_time AND S\.cluster_time_increment >= S\.emptied_increment\)\) THEN INSERT \(db, coll, document_id,/, 'nor behind a newer marker that emptied the collection');
  assert.match(q, /WHERE op = 'snapshot_complete' AND JSON_VALUE\(document, '\$\.snapshot_events'\) = '0' AND cluster_time >= @min_cluster_time QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY db, coll ORDER BY cluster_time DESC, cluster_time_increment DESC\) = 1 \) AS E ON E\.db = L\.db AND E\.coll = L\.coll/, 'the newest marker of no events per collection, pruned likewise');
  assert.doesNotMatch(q, /INSERT ROW/, 'explicit column list');
  assert.match(q, /WHERE op = 'delete' AND cluster_time >= @min_cluster_time AND document_id IN \(SELECT document_id FROM/, 'the delete look-up is pruned to the group days on');
  assert.match(q, /document_id IN \(SELECT document_id FROM `p\.cdc\.orders_changes__stage_x`\)/);
});

test('newer-than: cluster time, then increment, then a change beats a snapshot row at the same instant', () => {
  assert.equal(
    newerThan('a', 'b'),
    '(a.cluster_time > b.cluster_time OR (a.cluster_time = b.cluster_time AND a.cluster_time_increment > b.cluster_time_increment) OR (a.cluster_time = b.cluster_time AND a.cluster_time_increment = b.cluster_time_increment AND NOT a.snapshot AND b.snapshot))',
  );
});

test('the full current-state query and the duplicate count', () => {
  const q = squash(currentStateQuery(names));
  assert.match(q, /FROM `p\.cdc\.orders_changes` WHERE op != 'snapshot_complete' AND NOT \(op = 'update' AND document IS NULL\) QUALIFY ROW_NUMBER\(\)/);
  assert.match(q, /WHERE latest\.op != 'delete' AND \(E\.emptied_cluster_time IS NULL OR latest\.cluster_time > E\.emptied_cluster_time OR \(latest\.cluster_time = E\.emptied_cluster_time AND latest\.cluster_time_increment >= E\.emptied_increment\)\)$/, 'nor older than a marker that emptied its collection');
  assert.match(duplicateCountQuery(names), /COUNT\(\*\) - COUNT\(DISTINCT event_id\) AS duplicate_rows FROM `p\.cdc\.orders_changes`/);
});
