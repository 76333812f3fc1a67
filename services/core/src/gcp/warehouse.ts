import type { BigQuery, Dataset, TableField, TableMetadata } from '@google-cloud/bigquery';
import type { BucketMetadata, CreateBucketRequest, Storage } from '@google-cloud/storage';
import { ServiceError } from '../errors/errors.js';
import { PARQUET_COLUMNS } from '../files/columns.js';
import { gcpErrorInfo, isAlreadyExists, isNotFound } from './errors.js';
import { stagingBucketName, type GcpConfig } from './settings.js';

export interface WarehouseNames {
  project: string;
  dataset: string;
  changesTable: string;
  currentTable: string;
}

export function warehouseNames(config: GcpConfig): WarehouseNames {
  return { project: config.GCP_PROJECT, dataset: config.BQ_DATASET, changesTable: config.BQ_CHANGES_TABLE, currentTable: config.BQ_CURRENT_TABLE };
}

/** The configured staging bucket, or undefined when files are loaded from the local disk. */
export function stagingBucket(config: GcpConfig): StagingBucket | undefined {
  const name = stagingBucketName(config);
  return name ? { name, maxAgeDays: config.GCS_STAGING_MAX_AGE_DAYS } : undefined;
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

export type BucketCheck =
  | { bucket: string; status: EnsureStatus; /** protections the bucket does not report as on (an existing bucket is not changed) */ warnings: string[] }
  | { bucket: string; status: 'refused'; reason: string };

/** The staging bucket to use: its name and the age at which its lifecycle rule deletes objects (0: no rule). */
export interface StagingBucket {
  name: string;
  maxAgeDays: number;
}

/** The bucket exists but another project owns it: documents must not go there. Not retried. */
export class ForeignBucketError extends ServiceError {
  constructor(bucket: string, owner: string, ours: string) {
    super(
      `bucket gs://${bucket} belongs to project number ${owner}, not to ours (${ours}): refusing to stage documents in it; name a bucket of our project in GCS_BUCKET (e.g. {project}-cdc-staging)`,
      { reason: 'foreign_bucket' },
    );
  }
}

/** What a new bucket is made with: no object ACLs (IAM only), never public, objects deleted after maxAgeDays. */
function newBucketMetadata(location: string, maxAgeDays: number): CreateBucketRequest {
  return {
    location,
    iamConfiguration: { uniformBucketLevelAccess: { enabled: true }, publicAccessPrevention: 'enforced' },
    ...(maxAgeDays > 0 ? { lifecycle: { rule: [{ action: { type: 'Delete' as const }, condition: { age: maxAgeDays } }] } } : {}),
  };
}

function protectionWarnings(metadata: BucketMetadata): string[] {
  const warnings: string[] = [];
  if (metadata.iamConfiguration?.uniformBucketLevelAccess?.enabled !== true) warnings.push('uniform bucket-level access is not reported as enabled');
  if (metadata.iamConfiguration?.publicAccessPrevention !== 'enforced') warnings.push('public access prevention is not reported as enforced');
  return warnings;
}

/**
 * The staging bucket: used when it exists, is reachable and belongs to our project (else ForeignBucketError),
 * created when missing. A refusal (no billing on the project, no permission, a name Cloud Storage does not
 * accept: 400/401/403, or a 409 for a name we cannot read) is reported, not thrown: files can still be loaded
 * straight from the local disk. Network failures and 5xx are thrown (the caller retries).
 */
export async function ensureBucket(storage: Storage, staging: StagingBucket, clients: { location: string; projectNumber(): Promise<string> }): Promise<BucketCheck> {
  const name = staging.name;
  const refused = (error: unknown): BucketCheck | null => {
    const info = gcpErrorInfo(error);
    if (info.status !== null && [400, 401, 403, 409].includes(info.status)) {
      return { bucket: name, status: 'refused', reason: `HTTP ${info.status}${info.reason ? ` ${info.reason}` : ''}: ${info.message}` };
    }
    return null;
  };
  const bucket = storage.bucket(name);
  const existing = async (): Promise<BucketCheck> => {
    const [metadata] = await bucket.getMetadata();
    const ours = await clients.projectNumber();
    if (String(metadata.projectNumber) !== ours) throw new ForeignBucketError(name, String(metadata.projectNumber), ours);
    return { bucket: name, status: 'exists', warnings: protectionWarnings(metadata) };
  };
  try {
    return await existing();
  } catch (error) {
    if (!isNotFound(error)) {
      const refusal = refused(error);
      if (refusal) return refusal;
      throw error;
    }
  }
  try {
    const [created] = await storage.createBucket(name, newBucketMetadata(clients.location, staging.maxAgeDays));
    return { bucket: name, status: 'created', warnings: protectionWarnings(created.metadata) };
  } catch (error) {
    if (isAlreadyExists(error)) {
      // Created meanwhile by us (fine) or owned by another project (foreign or refused): ask again.
      try {
        return await existing();
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
  clients: { bigquery: BigQuery; storage: Storage; location: string; projectNumber(): Promise<string> },
  names: WarehouseNames,
  staging: StagingBucket | undefined,
): Promise<WarehouseReport> {
  const bucket = staging ? await ensureBucket(clients.storage, staging, clients) : null;
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
