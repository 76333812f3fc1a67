import type { ChangeEvent, Operation } from '@cdc/core';

/** Physical/logical types used by the Parquet schema (names as both parquetjs libraries spell them). */
export type ColumnType = 'UTF8' | 'TIMESTAMP_MICROS' | 'INT64' | 'INT32' | 'BOOLEAN';

export interface ColumnSpec {
  name: keyof ParquetRow;
  type: ColumnType;
  optional: boolean;
  /** type BigQuery gives the column when it loads the file */
  bigquery: 'STRING' | 'TIMESTAMP' | 'INTEGER' | 'BOOLEAN';
}

/**
 * The columns of every Parquet file, in file order. One row per change event. BSON payloads stay canonical
 * Extended JSON strings (exact types: Decimal128, Long, dates) for the warehouse to parse.
 */
export const PARQUET_COLUMNS: readonly ColumnSpec[] = [
  { name: 'event_id', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'op', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'db', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'coll', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'document_id', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'cluster_time', type: 'TIMESTAMP_MICROS', optional: false, bigquery: 'TIMESTAMP' },
  { name: 'cluster_time_increment', type: 'INT64', optional: false, bigquery: 'INTEGER' },
  { name: 'wall_time', type: 'TIMESTAMP_MICROS', optional: true, bigquery: 'TIMESTAMP' },
  { name: 'snapshot', type: 'BOOLEAN', optional: false, bigquery: 'BOOLEAN' },
  { name: 'source_instance', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'resume_token', type: 'UTF8', optional: true, bigquery: 'STRING' },
  { name: 'document', type: 'UTF8', optional: true, bigquery: 'STRING' },
  { name: 'document_before', type: 'UTF8', optional: true, bigquery: 'STRING' },
  { name: 'update_description', type: 'UTF8', optional: true, bigquery: 'STRING' },
  { name: 'schema_version', type: 'INT32', optional: false, bigquery: 'INTEGER' },
  { name: 'kafka_topic', type: 'UTF8', optional: false, bigquery: 'STRING' },
  { name: 'kafka_partition', type: 'INT32', optional: false, bigquery: 'INTEGER' },
  { name: 'kafka_offset', type: 'INT64', optional: false, bigquery: 'INTEGER' },
];

export interface ParquetRow {
  event_id: string;
  op: Operation;
  db: string;
  coll: string;
  document_id: string;
  /** cluster time seconds as a timestamp (second precision; the ordinal is cluster_time_increment) */
  cluster_time: Date;
  cluster_time_increment: number;
  wall_time: Date | null;
  snapshot: boolean;
  source_instance: string;
  resume_token: string | null;
  document: string | null;
  document_before: string | null;
  /** JSON of the envelope's update_description object (updated_fields stays canonical Extended JSON inside it) */
  update_description: string | null;
  schema_version: number;
  kafka_topic: string;
  kafka_partition: number;
  kafka_offset: number;
}

export interface SourcePosition {
  topic: string;
  partition: number;
  offset: number;
}

/** Envelope (already validated by decodeChangeEvent) → Parquet row. */
export function toRow(event: ChangeEvent, at: SourcePosition): ParquetRow {
  let wallTime: Date | null = null;
  if (event.wall_time !== null) {
    wallTime = new Date(event.wall_time);
    if (Number.isNaN(wallTime.getTime())) throw new Error(`wall_time ${JSON.stringify(event.wall_time)} is not a date`);
  }
  return {
    event_id: event.event_id,
    op: event.op,
    db: event.db,
    coll: event.coll,
    document_id: event.document_id,
    cluster_time: new Date(event.cluster_time.t * 1000),
    cluster_time_increment: event.cluster_time.i,
    wall_time: wallTime,
    snapshot: event.source.snapshot,
    source_instance: event.source.instance,
    resume_token: event.resume_token,
    document: event.document,
    document_before: event.document_before ?? null,
    update_description: event.update_description === null ? null : JSON.stringify(event.update_description),
    schema_version: event.schema_version,
    kafka_topic: at.topic,
    kafka_partition: at.partition,
    kafka_offset: at.offset,
  };
}
