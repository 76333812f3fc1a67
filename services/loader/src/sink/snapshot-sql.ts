import { changesTableColumns, qualifiedTable, type WarehouseNames } from '@cdc/core/gcp';
import type { ClusterTime } from '@cdc/core';
import { newerThan, type Statement } from './sql.js';

/**
 * A snapshot that replaced a lost history, as its snapshot-complete marker names it: the cdc instance, the start
 * time its rows carry, how many snapshot events it published, and the marker's record (the lineage of its deletes).
 */
export interface SnapshotCompletion {
  eventId: string;
  db: string;
  coll: string;
  instance: string;
  snapshotAt: ClusterTime;
  events: number;
  marker: { topic: string; partition: number; offset: number };
}

/** The markers of a staged group (their `document` holds the count). */
export function buildStagedMarkers(names: WarehouseNames, staging: string): Statement {
  const query = `SELECT DISTINCT event_id, db, coll, source_instance, UNIX_SECONDS(cluster_time) AS t, cluster_time_increment AS i, document, kafka_topic, kafka_partition, kafka_offset
FROM ${qualifiedTable(names, staging)}
WHERE op = 'snapshot_complete'`;
  return { query, params: {}, types: {} };
}

/**
 * The deletes of a snapshot stand just before its start time (the document was gone by then): any change from the
 * snapshot on, streamed or snapshotted, is newer, whenever it is loaded.
 */
export function deleteTimeOf(snapshotAt: ClusterTime): ClusterTime {
  return snapshotAt.i > 0 ? { t: snapshotAt.t, i: snapshotAt.i - 1 } : { t: snapshotAt.t - 1, i: 0xffffffff };
}

function completionParams(c: SnapshotCompletion): Pick<Statement, 'params' | 'types'> {
  const deleteAt = deleteTimeOf(c.snapshotAt);
  return {
    params: {
      db: c.db,
      coll: c.coll,
      instance: c.instance,
      snapshot_t: c.snapshotAt.t,
      snapshot_i: c.snapshotAt.i,
      delete_t: deleteAt.t,
      delete_i: deleteAt.i,
      // the text core's snapshotDeleteEventId hashes, but for the document id
      id_prefix: `snapshot-complete:${c.db}.${c.coll}:${c.instance}:${c.snapshotAt.t}.${c.snapshotAt.i}:delete:`,
      marker_topic: c.marker.topic,
      marker_partition: c.marker.partition,
      marker_offset: c.marker.offset,
    },
    types: {
      db: 'STRING',
      coll: 'STRING',
      instance: 'STRING',
      snapshot_t: 'INT64',
      snapshot_i: 'INT64',
      delete_t: 'INT64',
      delete_i: 'INT64',
      id_prefix: 'STRING',
      marker_topic: 'STRING',
      marker_partition: 'INT64',
      marker_offset: 'INT64',
    },
  };
}

/** The snapshot's own rows in the changes table (one day partition). */
const SNAPSHOT_ROWS = `op = 'snapshot' AND db = @db AND coll = @coll AND source_instance = @instance
    AND cluster_time = TIMESTAMP_SECONDS(@snapshot_t) AND cluster_time_increment = @snapshot_i`;

/** The deletes this snapshot made (they stand at its delete time), columns of `alias`. */
const snapshotDeletes = (alias: string) => `${alias}.op = 'delete' AND ${alias}.snapshot AND ${alias}.db = @db AND ${alias}.coll = @coll
    AND ${alias}.source_instance = @instance
    AND ${alias}.cluster_time = TIMESTAMP_SECONDS(@delete_t) AND ${alias}.cluster_time_increment = @delete_i`;

const DELETE_EVENT_ID = 'SUBSTR(TO_HEX(SHA256(CONCAT(@id_prefix, T.document_id))), 1, 32)';

/** Documents of the snapshot in the changes table: all of them loaded when it reaches the marker's count. */
export function buildSnapshotSeenCount(names: WarehouseNames, c: SnapshotCompletion): Statement {
  const query = `SELECT COUNT(DISTINCT document_id) AS seen FROM ${qualifiedTable(names, names.changesTable)}
WHERE ${SNAPSHOT_ROWS}`;
  return { query, ...completionParams(c) };
}

/**
 * A delete row in the changes table for each current row older than the snapshot whose document the snapshot did
 * not see: the document was deleted while the history was lost. The row says so: op delete, snapshot true, the
 * snapshot's instance, the removed state as document_before, the marker's record as lineage, an event id made of
 * the snapshot and the document. Idempotent: a delete already there is not inserted again (and a row already
 * deleted from the current table is not looked at).
 */
export function buildInsertSnapshotDeletes(names: WarehouseNames, c: SnapshotCompletion): Statement {
  const changes = qualifiedTable(names, names.changesTable);
  const values: Record<string, string> = {
    event_id: DELETE_EVENT_ID,
    op: "'delete'",
    db: 'T.db',
    coll: 'T.coll',
    document_id: 'T.document_id',
    cluster_time: 'TIMESTAMP_SECONDS(@delete_t)',
    cluster_time_increment: '@delete_i',
    wall_time: 'CAST(NULL AS TIMESTAMP)',
    snapshot: 'TRUE',
    source_instance: '@instance',
    resume_token: 'CAST(NULL AS STRING)',
    document: 'CAST(NULL AS STRING)',
    document_before: 'T.document',
    update_description: 'CAST(NULL AS STRING)',
    schema_version: '1',
    kafka_topic: '@marker_topic',
    kafka_partition: '@marker_partition',
    kafka_offset: '@marker_offset',
  };
  const columns = changesTableColumns().map((column) => column.name);
  const query = `INSERT INTO ${changes} (${columns.join(', ')})
SELECT ${columns.map((name) => `${values[name]} AS ${name}`).join(', ')}
FROM ${qualifiedTable(names, names.currentTable)} AS T
WHERE T.db = @db AND T.coll = @coll
  AND (T.cluster_time < TIMESTAMP_SECONDS(@snapshot_t)
       OR (T.cluster_time = TIMESTAMP_SECONDS(@snapshot_t) AND T.cluster_time_increment < @snapshot_i))
  AND T.document_id NOT IN (SELECT document_id FROM ${changes} WHERE ${SNAPSHOT_ROWS})
  AND NOT EXISTS (SELECT 1 FROM ${changes} AS C WHERE ${snapshotDeletes('C')} AND C.document_id = T.document_id)`;
  return { query, ...completionParams(c) };
}

/** The snapshot's deletes applied to the current table; a row changed since (newer) stays. Idempotent. */
export function buildMergeSnapshotDeletes(names: WarehouseNames, c: SnapshotCompletion): Statement {
  const query = `MERGE ${qualifiedTable(names, names.currentTable)} AS T
USING (
  SELECT DISTINCT D.db, D.coll, D.document_id, D.cluster_time, D.cluster_time_increment, D.snapshot FROM ${qualifiedTable(names, names.changesTable)} AS D
  WHERE ${snapshotDeletes('D')}
) AS S
ON T.db = S.db AND T.coll = S.coll AND T.document_id = S.document_id
WHEN MATCHED AND ${newerThan('S', 'T')} THEN
  DELETE`;
  return { query, ...completionParams(c) };
}
