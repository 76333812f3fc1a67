import type { BigQuery, Dataset, TableField, TableMetadata } from '@google-cloud/bigquery';
import type { Storage } from '@google-cloud/storage';
import { PARQUET_COLUMNS } from '../files/columns.js';
import { gcpErrorInfo, isAlreadyExists, isNotFound } from './errors.js';
import type { GcpConfig } from './settings.js';

export interface WarehouseNames {
  project: string;
  dataset: string;
  changesTable: string;
  currentTable: string;
}

export function warehouseNames(config: GcpConfig): WarehouseNames {
  return { project: config.GCP_PROJECT, dataset: config.BQ_DATASET, changesTable: config.BQ_CHANGES_TABLE, currentTable: config.BQ_CURRENT_TABLE };
}

/** `project.dataset.table` in backticks, for SQL. */
export function qualifiedTable(names: WarehouseNames, table: string): string {
  return `\`${names.project}.${names.dataset}.${table}\``;
}

export interface ColumnDefinition {
  name: string;
  type: string;
  mode: 'REQUIRED' | 'NULLABLE';
  description?: string;
}

/** orders_changes: every change event, one row per Parquet row, the columns of the files (same names and types). */
export function changesTableColumns(): ColumnDefinition[] {
  return PARQUET_COLUMNS.map((c) => ({ name: c.name, type: c.bigquery, mode: c.optional ? 'NULLABLE' : 'REQUIRED' }));
}

/** orders_current: one row per live document, the latest change that carried its full state. */
export function currentTableColumns(): ColumnDefinition[] {
  const req = (name: string, type: string, description: string): ColumnDefinition => ({ name, type, mode: 'REQUIRED', description });
  const opt = (name: string, type: string, description: string): ColumnDefinition => ({ name, type, mode: 'NULLABLE', description });
  return [
    req('db', 'STRING', 'source database'),
    req('coll', 'STRING', 'source collection'),
    req('document_id', 'STRING', '_id as canonical Extended JSON'),
    opt('document', 'STRING', 'full document as canonical Extended JSON'),
    req('op', 'STRING', 'operation of the change that produced this state'),
    req('event_id', 'STRING', 'id of that change'),
    req('cluster_time', 'TIMESTAMP', 'cluster time of that change (second precision)'),
    req('cluster_time_increment', 'INTEGER', 'ordinal of that change within its second'),
    opt('wall_time', 'TIMESTAMP', 'wall-clock time of that change, when known'),
    req('snapshot', 'BOOLEAN', 'true when the state comes from the initial snapshot'),
    req('kafka_topic', 'STRING', 'lineage: topic of that change'),
    req('kafka_partition', 'INTEGER', 'lineage: partition of that change'),
    req('kafka_offset', 'INTEGER', 'lineage: offset of that change'),
    req('updated_at', 'TIMESTAMP', 'when the loader wrote this row'),
  ];
}

export interface TableSpec {
  name: string;
  role: 'changes' | 'current';
  columns: ColumnDefinition[];
  timePartitioning?: { type: 'DAY'; field: string };
  clustering?: { fields: string[] };
  description: string;
}

export function warehouseTables(names: WarehouseNames): TableSpec[] {
  return [
    {
      name: names.changesTable,
      role: 'changes',
      columns: changesTableColumns(),
      timePartitioning: { type: 'DAY', field: 'cluster_time' },
      clustering: { fields: ['document_id'] },
      description: 'Every change event captured from MongoDB (append-only; duplicates by event_id are possible, see the dedup query)',
    },
    {
      name: names.currentTable,
      role: 'current',
      columns: currentTableColumns(),
      clustering: { fields: ['document_id'] },
      description: 'Current state: one row per live document, the latest change by (cluster_time, cluster_time_increment)',
    },
  ];
}

export type EnsureStatus = 'created' | 'exists';

export interface TableCheck {
  table: string;
  status: EnsureStatus;
  /** expected columns the table lacks */
  missingColumns: string[];
  /** columns whose type differs: `name: expected X, found Y` */
  typeMismatches: string[];
}

// BigQuery answers with legacy or standard type names depending on how a table was made.
const TYPE_ALIASES: Record<string, string> = { INT64: 'INTEGER', BOOL: 'BOOLEAN', FLOAT64: 'FLOAT', STRUCT: 'RECORD' };
const normalType = (type: string | undefined) => {
  const upper = (type ?? '').toUpperCase();
  return TYPE_ALIASES[upper] ?? upper;
};

/** Compares an existing table's schema with the expected columns (extra columns in the table are fine). */
export function compareSchema(expected: readonly ColumnDefinition[], actual: readonly TableField[]): { missingColumns: string[]; typeMismatches: string[] } {
  const byName = new Map(actual.map((f) => [f.name ?? '', f]));
  const missingColumns: string[] = [];
  const typeMismatches: string[] = [];
  for (const column of expected) {
    const found = byName.get(column.name);
    if (!found) missingColumns.push(column.name);
    else if (normalType(found.type) !== normalType(column.type)) typeMismatches.push(`${column.name}: expected ${column.type}, found ${found.type}`);
  }
  return { missingColumns, typeMismatches };
}

export async function ensureDataset(bigquery: BigQuery, dataset: string, location: string): Promise<EnsureStatus> {
  const [exists] = await bigquery.dataset(dataset).exists();
  if (exists) return 'exists';
  try {
    await bigquery.createDataset(dataset, { location });
    return 'created';
  } catch (error) {
    if (isAlreadyExists(error)) return 'exists';
    throw error;
  }
}

function tableMetadata(spec: TableSpec): TableMetadata {
  return {
    schema: { fields: spec.columns.map(({ name, type, mode, description }) => ({ name, type, mode, ...(description ? { description } : {}) })) },
    ...(spec.timePartitioning ? { timePartitioning: spec.timePartitioning } : {}),
    ...(spec.clustering ? { clustering: spec.clustering } : {}),
    description: spec.description,
  };
}

/** Creates the table when missing (idempotent); an existing one is checked against the expected columns, never changed. */
export async function ensureTable(dataset: Dataset, spec: TableSpec): Promise<TableCheck> {
  const table = dataset.table(spec.name);
  let status: EnsureStatus = 'exists';
  let metadata: TableMetadata;
  try {
    [metadata] = await table.getMetadata();
  } catch (error) {
    if (!isNotFound(error)) throw error;
    try {
      await dataset.createTable(spec.name, tableMetadata(spec));
      status = 'created';
    } catch (createError) {
      if (!isAlreadyExists(createError)) throw createError;
    }
    [metadata] = await table.getMetadata();
  }
  return { table: spec.name, status, ...compareSchema(spec.columns, metadata.schema?.fields ?? []) };
}

export type BucketCheck = { bucket: string; status: EnsureStatus } | { bucket: string; status: 'refused'; reason: string };

/**
 * The staging bucket: used when it exists and is reachable, created when missing. A refusal (no billing on the
 * project, no permission, a name Cloud Storage does not accept: 400/401/403, or a 409 for a name owned by someone
 * else) is reported, not thrown: files can still be loaded straight from the local disk. Network failures and
 * 5xx are thrown (the caller retries).
 */
export async function ensureBucket(storage: Storage, name: string, location: string): Promise<BucketCheck> {
  const refused = (error: unknown): BucketCheck | null => {
    const info = gcpErrorInfo(error);
    if (info.status !== null && [400, 401, 403, 409].includes(info.status)) {
      return { bucket: name, status: 'refused', reason: `HTTP ${info.status}${info.reason ? ` ${info.reason}` : ''}: ${info.message}` };
    }
    return null;
  };
  const bucket = storage.bucket(name);
  try {
    await bucket.getMetadata();
    return { bucket: name, status: 'exists' };
  } catch (error) {
    if (!isNotFound(error)) {
      const refusal = refused(error);
      if (refusal) return refusal;
      throw error;
    }
  }
  try {
    await storage.createBucket(name, { location });
    return { bucket: name, status: 'created' };
  } catch (error) {
    if (isAlreadyExists(error)) {
      // Created meanwhile by us (fine) or owned by another project (refused): ask again.
      try {
        await bucket.getMetadata();
        return { bucket: name, status: 'exists' };
      } catch (again) {
        const refusal = refused(again);
        if (refusal) return refusal;
        throw again;
      }
    }
    const refusal = refused(error);
    if (refusal) return refusal;
    throw error;
  }
}

export interface WarehouseReport {
  dataset: { name: string; status: EnsureStatus };
  tables: TableCheck[];
  /** null when no bucket is configured */
  bucket: BucketCheck | null;
}

/** Dataset, both tables and (when named) the bucket, all idempotent. Shared by gcp-utils and the loader's start. */
export async function ensureWarehouse(
  clients: { bigquery: BigQuery; storage: Storage; location: string },
  names: WarehouseNames,
  bucketName: string | undefined,
): Promise<WarehouseReport> {
  const bucket = bucketName ? await ensureBucket(clients.storage, bucketName, clients.location) : null;
  const datasetStatus = await ensureDataset(clients.bigquery, names.dataset, clients.location);
  const dataset = clients.bigquery.dataset(names.dataset);
  const tables: TableCheck[] = [];
  for (const spec of warehouseTables(names)) tables.push(await ensureTable(dataset, spec));
  return { dataset: { name: names.dataset, status: datasetStatus }, tables, bucket };
}

/** Problems that make loads fail (missing columns, other types), one line each. */
export function schemaProblems(report: WarehouseReport): string[] {
  return report.tables.flatMap((t) => [
    ...t.missingColumns.map((c) => `${t.table}: column ${c} is missing`),
    ...t.typeMismatches.map((m) => `${t.table}: ${m}`),
  ]);
}
