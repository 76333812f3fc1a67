import type { Operation } from '../envelope/envelope.js';

/** Physical/logical types used by the Parquet schema (names as both parquetjs libraries spell them). */
export type ColumnType = 'UTF8' | 'TIMESTAMP_MICROS' | 'INT64' | 'INT32' | 'BOOLEAN';

/** Types BigQuery gives the columns when it loads the files (legacy names, as the REST API returns them). */
export type BigQueryColumnType = 'STRING' | 'TIMESTAMP' | 'INTEGER' | 'BOOLEAN';

export interface ColumnSpec {
  name: keyof ParquetRow;
  type: ColumnType;
  optional: boolean;
  /** type BigQuery gives the column when it loads the file */
  bigquery: BigQueryColumnType;
}

/**
 * The columns of every Parquet file, in file order: the contract between the processor (writes them) and the
 * loader (loads them into BigQuery with this schema). One row per change event. BSON payloads stay canonical
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

/** One row of a Parquet file: one change event. */
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
