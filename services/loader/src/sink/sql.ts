import { changesTableColumns, qualifiedTable, type WarehouseNames } from '@cdc/core/gcp';

/** A query with named parameters and their BigQuery types. */
export interface Statement {
  query: string;
  params: Record<string, string | number | Date>;
  types: Record<string, string>;
}

/** The rows of one file in the changes table: its source range. */
export interface FileRange {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
}

/** Cluster-time bounds of a group's rows when every file announced them: prune the changes table's day partitions. */
export interface TimeBounds {
  minClusterTime: string;
  maxClusterTime: string;
}

/** Columns of the current table filled from a change row (the rest: updated_at). */
const STATE_COLUMNS = ['db', 'coll', 'document_id', 'document', 'op', 'event_id', 'cluster_time', 'cluster_time_increment', 'wall_time', 'snapshot', 'kafka_topic', 'kafka_partition', 'kafka_offset'] as const;

/** Order of changes to one document, newest first: cluster time, increment, then a change beats a snapshot row of the same instant. */
const NEWEST_FIRST = 'cluster_time DESC, cluster_time_increment DESC, IF(snapshot, 0, 1) DESC, kafka_offset DESC';

/** A row of the changes table is one Kafka record: its identity is its source position (upstream duplicates of an event_id stay, see the dedup query). */
const SOURCE_POSITION = ['kafka_topic', 'kafka_partition', 'kafka_offset'] as const;

/** SQL condition: change `a` is newer than state/change `b` (same order as NEWEST_FIRST). */
export function newerThan(a: string, b: string): string {
  return (
    `(${a}.cluster_time > ${b}.cluster_time` +
    ` OR (${a}.cluster_time = ${b}.cluster_time AND ${a}.cluster_time_increment > ${b}.cluster_time_increment)` +
    ` OR (${a}.cluster_time = ${b}.cluster_time AND ${a}.cluster_time_increment = ${b}.cluster_time_increment AND NOT ${a}.snapshot AND ${b}.snapshot))`
  );
}

/**
 * An update whose document is null (the document was deleted before the change stream looked it up) carries no
 * state: it must not blank the row, and the delete that follows it removes the row anyway. A snapshot-complete
 * marker is no document's change at all (snapshot-sql.ts acts on it).
 */
const CARRIES_STATE = "op != 'snapshot_complete' AND NOT (op = 'update' AND document IS NULL)";

/**
 * A snapshot-complete marker of no events: the collection was dropped (or a re-snapshot found it empty), so as of the
 * marker's time it held no document. Its deletes remove the current rows there are when it is applied; a change older
 * than it that is loaded later (from another partition, for a document with no current row then) must not bring a
 * document back either.
 */
const EMPTIED = "op = 'snapshot_complete' AND JSON_VALUE(document, '$.snapshot_events') = '0'";

/** SQL condition: change `a` is not older than its collection's newest emptying marker (columns emptied_* of `m`), or there is none. */
const notOlderThanEmptied = (a: string, m: string) =>
  `(${m}.emptied_cluster_time IS NULL OR ${a}.cluster_time > ${m}.emptied_cluster_time
       OR (${a}.cluster_time = ${m}.emptied_cluster_time AND ${a}.cluster_time_increment >= ${m}.emptied_increment))`;

function boundParams(bounds: TimeBounds | null): Pick<Statement, 'params' | 'types'> {
  if (!bounds) return { params: {}, types: {} };
  return {
    params: { min_cluster_time: new Date(bounds.minClusterTime), max_cluster_time: new Date(bounds.maxClusterTime) },
    types: { min_cluster_time: 'TIMESTAMP', max_cluster_time: 'TIMESTAMP' },
  };
}

/**
 * Copies a staged group into the changes table, skipping every record already there (by source position) and
 * repeated ones within the group: running it again after a crash, or for a group that overlaps an earlier one
 * (a restart may group files differently), adds nothing twice. The look-up reads the small columns of the day
 * partitions of the group only.
 */
export function buildInsertNew(names: WarehouseNames, staging: string, bounds: TimeBounds | null): Statement {
  const changes = qualifiedTable(names, names.changesTable);
  const columns = changesTableColumns()
    .map((c) => c.name)
    .join(', ');
  const prune = bounds ? ' AND C.cluster_time BETWEEN @min_cluster_time AND @max_cluster_time' : '';
  const query = `INSERT INTO ${changes} (${columns})
SELECT ${columns} FROM ${qualifiedTable(names, staging)} AS S
WHERE NOT EXISTS (
  SELECT 1 FROM ${changes} AS C
  WHERE ${SOURCE_POSITION.map((c) => `C.${c} = S.${c}`).join(' AND ')}${prune}
)
QUALIFY ROW_NUMBER() OVER (PARTITION BY ${SOURCE_POSITION.join(', ')} ORDER BY event_id) = 1`;
  return { query, ...boundParams(bounds) };
}

/**
 * Applies a staged group to the current table. Source: the group's rows, deduplicated by event_id, the newest
 * state-carrying change per document (so within a group, whatever its files and partitions, only each document's
 * newest change competes). Guarded so that applying the same or an older change again changes nothing
 * (idempotent, and order-independent between groups):
 *  - a matched row changes only when the source change is newer (a change beats a snapshot row at a tie);
 *  - a newer delete removes the row;
 *  - a document is inserted only when no newer delete of it is in the changes table (an old change applied again
 *    after the delete must not bring the document back), nor a newer marker that its collection was emptied
 *    (`EMPTIED`). Those look-ups read only delete rows and markers, only the small columns, only from the day
 *    partitions from the group's oldest change on.
 */
export function buildMergeGroup(names: WarehouseNames, staging: string, bounds: TimeBounds | null): Statement {
  const changes = qualifiedTable(names, names.changesTable);
  const current = qualifiedTable(names, names.currentTable);
  const stage = qualifiedTable(names, staging);
  const deletesSince = bounds ? ' AND cluster_time >= @min_cluster_time' : '';
  const columns = STATE_COLUMNS.join(', ');
  const query = `MERGE ${current} AS T
USING (
  SELECT L.*, D.cluster_time AS deleted_cluster_time, D.cluster_time_increment AS deleted_increment,
    E.cluster_time AS emptied_cluster_time, E.cluster_time_increment AS emptied_increment
  FROM (
    SELECT * FROM (
      SELECT ${columns} FROM ${stage}
      WHERE ${CARRIES_STATE}
      QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY kafka_offset) = 1
    ) AS U
    WHERE TRUE
    QUALIFY ROW_NUMBER() OVER (PARTITION BY db, coll, document_id ORDER BY ${NEWEST_FIRST}) = 1
  ) AS L
  LEFT JOIN (
    SELECT db, coll, document_id, cluster_time, cluster_time_increment FROM ${changes}
    WHERE op = 'delete'${deletesSince}
      AND document_id IN (SELECT document_id FROM ${stage})
    QUALIFY ROW_NUMBER() OVER (PARTITION BY db, coll, document_id ORDER BY cluster_time DESC, cluster_time_increment DESC) = 1
  ) AS D
  ON D.db = L.db AND D.coll = L.coll AND D.document_id = L.document_id
  LEFT JOIN (
    SELECT db, coll, cluster_time, cluster_time_increment FROM ${changes}
    WHERE ${EMPTIED}${deletesSince}
    QUALIFY ROW_NUMBER() OVER (PARTITION BY db, coll ORDER BY cluster_time DESC, cluster_time_increment DESC) = 1
  ) AS E
  ON E.db = L.db AND E.coll = L.coll
) AS S
ON T.db = S.db AND T.coll = S.coll AND T.document_id = S.document_id
WHEN MATCHED AND S.op = 'delete' AND ${newerThan('S', 'T')} THEN
  DELETE
WHEN MATCHED AND S.op != 'delete' AND ${newerThan('S', 'T')} THEN
  UPDATE SET ${STATE_COLUMNS.filter((c) => !['db', 'coll', 'document_id'].includes(c))
    .map((c) => `${c} = S.${c}`)
    .join(', ')}, updated_at = CURRENT_TIMESTAMP()
WHEN NOT MATCHED AND S.op != 'delete'
  AND (S.deleted_cluster_time IS NULL OR S.cluster_time > S.deleted_cluster_time
       OR (S.cluster_time = S.deleted_cluster_time AND S.cluster_time_increment > S.deleted_increment))
  AND ${notOlderThanEmptied('S', 'S')} THEN
  INSERT (${columns}, updated_at) VALUES (${STATE_COLUMNS.map((c) => `S.${c}`).join(', ')}, CURRENT_TIMESTAMP())`;
  return { query, ...boundParams(bounds) };
}

/** Records of the file's source range present in the changes table (all of them: the file was loaded). */
export function buildRangeCount(names: WarehouseNames, file: FileRange): Statement {
  const query = `SELECT COUNT(DISTINCT kafka_offset) AS present FROM ${qualifiedTable(names, names.changesTable)}
WHERE kafka_topic = @topic AND kafka_partition = @partition AND kafka_offset BETWEEN @first_offset AND @last_offset`;
  return {
    query,
    params: { topic: file.topic, partition: file.partition, first_offset: file.firstOffset, last_offset: file.lastOffset },
    types: { topic: 'STRING', partition: 'INT64', first_offset: 'INT64', last_offset: 'INT64' },
  };
}

/**
 * The current state computed from the whole changes table (what the MERGE keeps up to date incrementally):
 * the newest state-carrying change per document, unless it is a delete or older than its collection's newest
 * emptying marker. Used by the view alternative, the periodic rebuild and as the reference in tests.
 */
export function currentStateQuery(names: WarehouseNames): string {
  const changes = qualifiedTable(names, names.changesTable);
  return `SELECT ${STATE_COLUMNS.map((c) => `latest.${c}`).join(', ')} FROM (
  SELECT ${STATE_COLUMNS.join(', ')} FROM ${changes}
  WHERE ${CARRIES_STATE}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY db, coll, document_id ORDER BY ${NEWEST_FIRST}) = 1
) AS latest
LEFT JOIN (
  SELECT db, coll, cluster_time AS emptied_cluster_time, cluster_time_increment AS emptied_increment FROM ${changes}
  WHERE ${EMPTIED}
  QUALIFY ROW_NUMBER() OVER (PARTITION BY db, coll ORDER BY cluster_time DESC, cluster_time_increment DESC) = 1
) AS E
ON E.db = latest.db AND E.coll = latest.coll
WHERE latest.op != 'delete' AND ${notOlderThanEmptied('latest', 'E')}`;
}

/** Event ids loaded more than once into the changes table (at-least-once upstream): how many extra rows. */
export function duplicateCountQuery(names: WarehouseNames): string {
  const changes = qualifiedTable(names, names.changesTable);
  return `SELECT COUNT(*) AS total_rows, COUNT(DISTINCT event_id) AS distinct_events, COUNT(*) - COUNT(DISTINCT event_id) AS duplicate_rows FROM ${changes}`;
}
