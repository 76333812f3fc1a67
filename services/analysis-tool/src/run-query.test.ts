import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { createGcpClients, type BigQuery } from '@cdc/core/gcp';
import { QueryTimeout, runQuery } from './run-query.js';

const names = { project: 'local-project', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };

test('an endpoint that takes the connection and never answers: QueryTimeout at the deadline, not a promise pending for ever', async () => {
  const sockets = new Set<Socket>();
  const silent = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  try {
    const { bigquery } = createGcpClients({ GCP_PROJECT: names.project, BQ_DATASET: names.dataset, BQ_LOCATION: 'US', BQ_CHANGES_TABLE: names.changesTable, BQ_CURRENT_TABLE: names.currentTable, GCS_STAGING_MAX_AGE_DAYS: 7, BIGQUERY_ENDPOINT: `http://127.0.0.1:${port}` });
    const started = performance.now();
    await assert.rejects(runQuery(bigquery, names, { query: 'SELECT 1' }, { location: 'US', maximumBytesBilled: 1000, timeoutMs: 500 }), QueryTimeout);
    assert.ok(performance.now() - started < 5000);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('at most maxRows rows, truncated said; the bounds reach the job', async () => {
  const jobs: Record<string, unknown>[] = [];
  const asked: Record<string, unknown>[] = [];
  const pages = [
    [[], null, { jobComplete: false }],
    [[{ n: 1 }, { n: 2 }, { n: 3 }], { pageToken: 'x' }, { jobComplete: true, schema: { fields: [{ name: 'n' }] } }],
  ];
  const job = { getQueryResults: async (options: Record<string, unknown>) => (asked.push(options), pages.shift()) };
  const bigquery = { createQueryJob: async (options: Record<string, unknown>) => (jobs.push(options), [job]) } as unknown as BigQuery;
  const result = await runQuery(bigquery, names, { query: 'SELECT n' }, { location: 'EU', maximumBytesBilled: 1000, maxRows: 2, timeoutMs: 60000 });
  assert.deepEqual(result.rows, [{ n: 1 }, { n: 2 }]);
  assert.deepEqual(result.columns, ['n']);
  assert.equal(result.truncated, true);
  assert.equal(asked.length, 2, 'asked again while the job was not complete');
  assert.equal(asked[0]!.maxResults, 3);
  assert.deepEqual({ ...jobs[0], defaultDataset: undefined }, { query: 'SELECT n', location: 'EU', maximumBytesBilled: '1000', jobTimeoutMs: 60000, defaultDataset: undefined });
});
