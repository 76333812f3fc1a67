import { qualifiedTable, typedViewNames, type WarehouseNames } from '@cdc/core/gcp';

export interface ReadyQuery {
  query: string;
  params?: Record<string, unknown>;
  types?: Record<string, unknown>;
}

/**
 * document_id is the `_id` as canonical Extended JSON. An id typed at the prompt may be that JSON already, an
 * ObjectId (24 hex digits), an integer, or a string: every form it can stand for is tried.
 */
export function documentIdCandidates(input: string): string[] {
  const text = input.trim();
  if (text.startsWith('{') || text.startsWith('"')) return [text];
  if (/^[0-9a-fA-F]{24}$/.test(text)) return [`{"$oid":"${text.toLowerCase()}"}`, JSON.stringify(text)];
  if (/^-?\d+$/.test(text)) return [`{"$numberInt":"${text}"}`, `{"$numberLong":"${text}"}`, `{"$numberDouble":"${text}.0"}`, JSON.stringify(text)];
  return [JSON.stringify(text)];
}

const idParams = (input: string) => ({ params: { ids: documentIdCandidates(input) }, types: { ids: ['STRING'] } });

/** The typed views of the orders collection, qualified for SQL (the loader makes them: see its README). */
export interface OrderViews {
  current: string;
  history: string;
}

export function orderViews(names: WarehouseNames, collection: string): OrderViews {
  const views = typedViewNames(collection);
  return { current: qualifiedTable(names, views.current), history: qualifiedTable(names, views.history) };
}

/** Orders by status and day of their latest change, newest days first. */
export function ordersByStatusAndDay(views: OrderViews, days: number): ReadyQuery {
  return {
    query: `SELECT DATE(_cluster_time) AS day, COALESCE(status, '(none)') AS status, COUNT(*) AS orders
FROM ${views.current}
WHERE _cluster_time >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY)
GROUP BY day, status
ORDER BY day DESC, orders DESC, status`,
    params: { days },
    types: { days: 'INT64' },
  };
}

/** Revenue per day: live orders by the day they first appeared (insert or snapshot), with their current total. */
export function revenuePerDay(views: OrderViews, days: number): ReadyQuery {
  return {
    query: `SELECT DATE(first.seen) AS day, COUNT(*) AS orders, SUM(o.total) AS revenue
FROM ${views.current} AS o
JOIN (SELECT _document_id, MIN(_cluster_time) AS seen FROM ${views.history} GROUP BY _document_id) AS first
  ON first._document_id = o._document_id
WHERE first.seen >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL @days DAY)
GROUP BY day
ORDER BY day DESC`,
    params: { days },
    types: { days: 'INT64' },
  };
}

/** Every change of one order, oldest first, one row per event (duplicates dropped by the view), typed fields. */
export function orderHistory(views: OrderViews, id: string): ReadyQuery {
  return {
    query: `SELECT * EXCEPT (_db, _document_id, _document, _update_description)
FROM ${views.history}
WHERE _document_id IN UNNEST(@ids)
ORDER BY _cluster_time, _cluster_time_increment`,
    ...idParams(id),
  };
}

/** The current state of one order, typed fields. */
export function orderCurrent(views: OrderViews, id: string): ReadyQuery {
  return {
    query: `SELECT * EXCEPT (_db, _document) FROM ${views.current} WHERE _document_id IN UNNEST(@ids)`,
    ...idParams(id),
  };
}

/** How far the warehouse is behind: now minus the newest change loaded, per source topic. */
export function freshness(names: WarehouseNames): ReadyQuery {
  const changes = qualifiedTable(names, names.changesTable);
  return {
    query: `SELECT kafka_topic AS topic, MAX(cluster_time) AS newest_change, TIMESTAMP_DIFF(CURRENT_TIMESTAMP(), MAX(cluster_time), SECOND) AS behind_seconds, COUNT(*) AS changes
FROM ${changes}
GROUP BY kafka_topic
ORDER BY topic`,
  };
}

/** Duplicates by event_id in the changes table (at-least-once upstream): the counts and the most repeated events. */
export function duplicates(names: WarehouseNames): ReadyQuery[] {
  const changes = qualifiedTable(names, names.changesTable);
  return [
    { query: `SELECT COUNT(*) AS total_rows, COUNT(DISTINCT event_id) AS distinct_events, COUNT(*) - COUNT(DISTINCT event_id) AS duplicate_rows FROM ${changes}` },
    {
      query: `SELECT event_id, COUNT(*) AS copies, MIN(op) AS op, MIN(document_id) AS document_id FROM ${changes}
GROUP BY event_id HAVING COUNT(*) > 1 ORDER BY copies DESC, event_id LIMIT 20`,
    },
  ];
}

/** The changes table without duplicates: the query to build on (also in the loader README). */
export function dedupedChanges(names: WarehouseNames): string {
  const changes = qualifiedTable(names, names.changesTable);
  return `SELECT * FROM ${changes} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY kafka_topic, kafka_partition, kafka_offset) = 1`;
}
