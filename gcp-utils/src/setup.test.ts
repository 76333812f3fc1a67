import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GcpConfig, WarehouseReport } from '@cdc/core/gcp';
import { describeSetup } from './setup.js';

const config: GcpConfig = { GCP_PROJECT: 'p', BQ_DATASET: 'cdc', BQ_LOCATION: 'US', BQ_CHANGES_TABLE: 'orders_changes', BQ_CURRENT_TABLE: 'orders_current', GCS_BUCKET: 'b', GCS_STAGING_MAX_AGE_DAYS: 7, BIGQUERY_ENDPOINT: 'http://127.0.0.1:9050' };
const auth = { bigquery: 'emulator (no credentials)', storage: 'application default credentials' };
const table = (name: string, status: 'created' | 'exists') => ({ table: name, status, missingColumns: [], typeMismatches: [] });

test('a first run lists what it created, with the table layout', () => {
  const report: WarehouseReport = { bucket: { bucket: 'b', status: 'created', warnings: [] }, dataset: { name: 'cdc', status: 'created' }, tables: [table('orders_changes', 'created'), table('orders_current', 'created')] };
  const result = describeSetup(config, report, auth);
  assert.deepEqual(result.created, ['bucket b', 'dataset cdc', 'table orders_changes', 'table orders_current']);
  assert.ok(result.lines.includes('bucket gs://b: created (uniform bucket-level access, public access prevented, objects deleted after 7 days)'));
  assert.ok(result.lines.includes('table cdc.orders_changes: created (partitioned by DAY on cluster_time, clustered by document_id)'));
  assert.match(result.lines.join('\n'), /BigQuery: +emulator at http:\/\/127\.0\.0\.1:9050/);
  assert.match(result.lines.join('\n'), /Cloud Storage: Google Cloud, auth: application default credentials/);
});

test('a second run says nothing changed; a refused bucket is explained, not fatal', () => {
  const report: WarehouseReport = {
    bucket: { bucket: 'b', status: 'refused', reason: 'HTTP 403 forbidden: billing is disabled' },
    dataset: { name: 'cdc', status: 'exists' },
    tables: [table('orders_changes', 'exists'), table('orders_current', 'exists')],
  };
  const result = describeSetup(config, report, auth);
  assert.deepEqual(result.created, []);
  assert.equal(result.lines.at(-1), 'nothing changed: everything was already in place');
  assert.match(result.lines.join('\n'), /REFUSED .*billing is disabled[\s\S]*straight from the local disk/);
  assert.deepEqual(result.problems, []);
});

test('schema differences are reported as problems', () => {
  const report: WarehouseReport = {
    bucket: null,
    dataset: { name: 'cdc', status: 'exists' },
    tables: [{ table: 'orders_changes', status: 'exists', missingColumns: ['kafka_offset'], typeMismatches: ['op: expected STRING, found INTEGER'] }, table('orders_current', 'exists')],
  };
  const result = describeSetup(config, report, auth);
  assert.deepEqual(result.problems, ['orders_changes: column kafka_offset is missing', 'orders_changes: op: expected STRING, found INTEGER']);
  assert.match(result.lines.join('\n'), /schema DIFFERS/);
});
