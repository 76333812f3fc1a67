import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARQUET_COLUMNS } from '../files/columns.js';
import { changesTableColumns, compareSchema, currentTableColumns, qualifiedTable, warehouseTables } from './warehouse.js';

const names = { project: 'local-project', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };

test('the changes table has exactly the Parquet columns, with their BigQuery types and modes', () => {
  assert.deepEqual(
    changesTableColumns(),
    PARQUET_COLUMNS.map((c) => ({ name: c.name, type: c.bigquery, mode: c.optional ? 'NULLABLE' : 'REQUIRED' })),
  );
});

test('tables: changes partitioned by day on cluster_time and clustered by document_id; current keyed by document', () => {
  const [changes, current] = warehouseTables(names);
  assert.equal(changes!.name, 'orders_changes');
  assert.deepEqual(changes!.timePartitioning, { type: 'DAY', field: 'cluster_time' });
  assert.deepEqual(changes!.clustering, { fields: ['document_id'] });
  assert.equal(current!.name, 'orders_current');
  assert.equal(current!.timePartitioning, undefined);
  const columns = currentTableColumns().map((c) => c.name);
  for (const required of ['db', 'coll', 'document_id', 'document', 'op', 'event_id', 'cluster_time', 'cluster_time_increment', 'wall_time', 'updated_at']) assert.ok(columns.includes(required), required);
  assert.equal(qualifiedTable(names, 'orders_current'), '`local-project.cdc.orders_current`');
});

test('schema comparison: missing columns and other types are found; type aliases and extra columns are fine', () => {
  const expected = [
    { name: 'a', type: 'INTEGER', mode: 'REQUIRED' as const },
    { name: 'b', type: 'BOOLEAN', mode: 'NULLABLE' as const },
    { name: 'c', type: 'STRING', mode: 'NULLABLE' as const },
    { name: 'd', type: 'TIMESTAMP', mode: 'NULLABLE' as const },
  ];
  const result = compareSchema(expected, [
    { name: 'a', type: 'INT64' },
    { name: 'b', type: 'BOOL' },
    { name: 'c', type: 'INTEGER' },
    { name: 'extra', type: 'STRING' },
  ]);
  assert.deepEqual(result, { missingColumns: ['d'], typeMismatches: ['c: expected STRING, found INTEGER'] });
});
