import { createGcpClients, ensureWarehouse, schemaProblems, stagingBucket, warehouseNames, warehouseTables, type GcpConfig, type WarehouseReport } from '@cdc/core/gcp';

export interface SetupResult {
  report: WarehouseReport;
  /** what this run created (empty: nothing changed) */
  created: string[];
  problems: string[];
  lines: string[];
}

/** Human-readable lines of a setup report; pure, so the wording is tested without a server. */
export function describeSetup(config: GcpConfig, report: WarehouseReport, auth: { bigquery: string; storage: string }): SetupResult {
  const lines: string[] = [];
  const created: string[] = [];
  const target = (endpoint: string | undefined) => (endpoint ? `emulator at ${endpoint}` : 'Google Cloud');
  lines.push(`project ${config.GCP_PROJECT}, location ${config.BQ_LOCATION}`);
  lines.push(`  BigQuery:      ${target(config.BIGQUERY_ENDPOINT)}, auth: ${auth.bigquery}`);
  lines.push(`  Cloud Storage: ${target(config.GCS_ENDPOINT)}, auth: ${auth.storage}`);
  const bucket = report.bucket;
  if (!bucket) {
    lines.push('bucket: none configured (GCS_BUCKET empty): the loader loads files straight from the local disk');
  } else if (bucket.status === 'refused') {
    lines.push(`bucket gs://${bucket.bucket}: REFUSED by Cloud Storage (${bucket.reason})`);
    lines.push('  (no billing on the project, no permission, or a name Cloud Storage does not accept)');
    lines.push('  continuing without it: the loader loads files straight from the local disk');
  } else {
    const made = config.GCS_STAGING_MAX_AGE_DAYS > 0 ? `, objects deleted after ${config.GCS_STAGING_MAX_AGE_DAYS} days` : '';
    lines.push(`bucket gs://${bucket.bucket}: ${bucket.status === 'created' ? `created (uniform bucket-level access, public access prevented${made})` : 'exists, ours, unchanged'}`);
    for (const warning of bucket.warnings) lines.push(`  warning: ${warning}`);
    if (bucket.status === 'created') created.push(`bucket ${bucket.bucket}`);
  }
  lines.push(`dataset ${report.dataset.name}: ${report.dataset.status === 'created' ? 'created' : 'exists, unchanged'}`);
  if (report.dataset.status === 'created') created.push(`dataset ${report.dataset.name}`);
  const specs = new Map(warehouseTables(warehouseNames(config)).map((s) => [s.name, s]));
  for (const table of report.tables) {
    const spec = specs.get(table.table);
    const layout = [spec?.timePartitioning ? `partitioned by ${spec.timePartitioning.type} on ${spec.timePartitioning.field}` : '', spec?.clustering ? `clustered by ${spec.clustering.fields.join(', ')}` : '']
      .filter(Boolean)
      .join(', ');
    const ok = table.missingColumns.length === 0 && table.typeMismatches.length === 0;
    const state = table.status === 'created' ? `created${layout ? ` (${layout})` : ''}` : ok ? 'exists, schema as expected, unchanged' : 'exists, schema DIFFERS (not changed)';
    lines.push(`table ${report.dataset.name}.${table.table}: ${state}`);
    if (table.status === 'created') created.push(`table ${table.table}`);
  }
  const problems = schemaProblems(report);
  for (const problem of problems) lines.push(`  problem: ${problem}`);
  lines.push(created.length === 0 ? 'nothing changed: everything was already in place' : `created: ${created.join(', ')}`);
  return { report, created, problems, lines };
}

/** Bucket, dataset and both tables, idempotently; the same code for the emulators and Google Cloud. */
export async function runSetup(config: GcpConfig): Promise<SetupResult> {
  const clients = createGcpClients(config);
  const report = await ensureWarehouse(clients, warehouseNames(config), stagingBucket(config));
  return describeSetup(config, report, clients.auth);
}
