import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, DeadlineExceeded, RetriableError } from '@cdc/core';
import { classifyGcpError, createGcpClients, ObjectParquetStore, type BigQuery, type GcpConfig } from '@cdc/core/gcp';
import { BigQueryLoader } from './bigquery-load.js';
import { GcsStage } from './gcs-stage.js';

const names = { project: 'local-project', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };
const logger = createLogger({ service: 'test', level: 'silent' });
const limits = { requestMs: 300, jobMs: 600 };
const insert = { query: 'INSERT 1', params: {}, types: {} };

/** An endpoint that accepts every connection and never answers (a BigQuery or Cloud Storage that hangs). */
async function silentEndpoint(): Promise<{ endpoint: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => void sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

const clientsOf = (endpoint: string) =>
  createGcpClients({ GCP_PROJECT: names.project, BQ_DATASET: names.dataset, BQ_LOCATION: 'US', BQ_CHANGES_TABLE: names.changesTable, BQ_CURRENT_TABLE: names.currentTable, GCS_STAGING_MAX_AGE_DAYS: 7, BIGQUERY_ENDPOINT: endpoint, GCS_ENDPOINT: endpoint } as GcpConfig);

/** Rejects with a transient DeadlineExceeded, at its deadline (not long after, not for ever). */
async function failsTransientWithin(call: Promise<unknown>, deadlineMs: number): Promise<void> {
  const started = performance.now();
  const error = await call.then(
    () => assert.fail('answered by an endpoint that never answers'),
    (e: unknown) => e,
  );
  const elapsed = performance.now() - started;
  assert.ok(error instanceof DeadlineExceeded, `DeadlineExceeded, got ${String(error)}`);
  assert.equal(classifyGcpError(error).fault, 'transient');
  assert.ok(elapsed >= deadlineMs - 50 && elapsed < deadlineMs + 5000, `failed after ${Math.round(elapsed)} ms, deadline ${deadlineMs} ms`);
}

test('a BigQuery that accepts the connection and never answers: each call fails transient at its deadline', async () => {
  const silent = await silentEndpoint();
  try {
    const loader = new BigQueryLoader(clientsOf(silent.endpoint).bigquery, names, 'US', logger, limits);
    await failsTransientWithin(loader.createStaging('staging_x', 60_000), limits.requestMs);
    await failsTransientWithin(loader.dropTable('staging_x'), limits.requestMs);
    await failsTransientWithin(loader.run(insert), limits.requestMs);
    await failsTransientWithin(loader.rows({ ...insert, query: 'SELECT 1' }), limits.jobMs);
  } finally {
    silent.close();
  }
});

test('a Cloud Storage that never answers: metadata, upload and deletion fail transient at their deadlines', async () => {
  const silent = await silentEndpoint();
  try {
    const stage = new GcsStage(clientsOf(silent.endpoint).storage, 'bucket', 1, limits);
    await failsTransientWithin(stage.upload('package.json', { path: 'a.parquet', md5: 'x', crc32c: 'y', bytes: 10, fileId: 'f' }), limits.requestMs);
    await failsTransientWithin(stage.remove('a.parquet'), limits.requestMs);
  } finally {
    silent.close();
  }
});

test('a bucket input or output that never answers: metadata, listing, download, move and deletion fail transient at their deadlines', async () => {
  const silent = await silentEndpoint();
  try {
    const store = new ObjectParquetStore(clientsOf(silent.endpoint).storage, { bucket: 'bucket', prefix: 'parquet/', scratchDir: join(tmpdir(), `silent-store-${process.pid}`), resumableMinBytes: 1 << 20, requestTimeoutMs: limits.requestMs, transferTimeoutMs: limits.jobMs });
    await failsTransientWithin(store.stat('t/dt=2025-01-01/a.parquet'), limits.requestMs);
    await failsTransientWithin(store.listTopic('t'), limits.requestMs);
    await failsTransientWithin(store.remove(['t/dt=2025-01-01/a.parquet']), limits.requestMs);
    await failsTransientWithin(store.localCopy('t/dt=2025-01-01/a.parquet', '1'), limits.jobMs);
    await failsTransientWithin(store.markLoaded('t/dt=2025-01-01/a.parquet', 1), limits.jobMs);
  } finally {
    silent.close();
  }
});

/** A BigQuery whose statement jobs stay RUNNING until told: what it was asked is recorded. */
function slowJobs() {
  const asked: string[] = [];
  let state = 'RUNNING';
  let created = 0;
  const jobOf = (id: string) => ({
    id,
    metadata: { status: { state: 'RUNNING' } },
    getMetadata: async () => (asked.push(`status ${id}`), [{ status: { state }, statistics: { query: { numDmlAffectedRows: '3' } } }]),
    cancel: async () => (asked.push(`cancel ${id}`), [{}]),
  });
  const bigquery = { createQueryJob: async () => (asked.push(`create job_${++created}`), [jobOf(`job_${created}`)]), job: (id: string) => jobOf(id) } as unknown as BigQuery;
  return { bigquery, asked, finish: () => (state = 'DONE') };
}

test('a statement past its job deadline: cancelled, transient; no other statement starts while it may still commit', async () => {
  const bq = slowJobs();
  const loader = new BigQueryLoader(bq.bigquery, names, 'US', logger, limits, 20);
  await failsTransientWithin(loader.run(insert), limits.jobMs);
  assert.ok(bq.asked.includes('cancel job_1'), 'the job is cancelled');
  const created = bq.asked.filter((a) => a.startsWith('create')).length;
  const blocked = await loader.run(insert).then(
    () => assert.fail('ran while the earlier statement may still commit'),
    (e: unknown) => e,
  );
  assert.ok(blocked instanceof RetriableError && blocked.reason === 'statement_still_running', String(blocked));
  assert.equal(bq.asked.filter((a) => a.startsWith('create')).length, created, 'no new job while job_1 runs');
  bq.finish();
  assert.equal(await loader.run(insert), 3, 'runs once the given-up job is DONE');
  assert.deepEqual(bq.asked.filter((a) => a.startsWith('create')), ['create job_1', 'create job_2']);
});

test('a statement whose creation request got no answer: the job it may have made is asked for before the next statement', async () => {
  const asked: string[] = [];
  let made: string | null = null;
  let state: string | null = 'RUNNING';
  const bigquery = {
    createQueryJob: (options: { jobId: string }) => {
      asked.push('create');
      if (made === null) {
        made = options.jobId;
        return new Promise(() => undefined);
      }
      return Promise.resolve([{ id: options.jobId, metadata: { status: { state: 'DONE' }, statistics: { query: { numDmlAffectedRows: '0' } } } }]);
    },
    job: (id: string) => ({
      id,
      getMetadata: async () => {
        asked.push(`status ${id === made ? 'first' : 'other'}`);
        if (state === null) throw Object.assign(new Error('Not found: Job'), { code: 404 });
        return [{ status: { state } }];
      },
    }),
  } as unknown as BigQuery;
  const loader = new BigQueryLoader(bigquery, names, 'US', logger, limits, 20);
  await failsTransientWithin(loader.run(insert), limits.requestMs);
  await assert.rejects(loader.run(insert), (e: unknown) => e instanceof RetriableError && e.reason === 'statement_still_running');
  assert.deepEqual(asked, ['create', 'status first'], 'no second statement while the first may run');
  state = null;
  assert.equal(await loader.run(insert), 0, 'a job never made does not block');
  assert.deepEqual(asked, ['create', 'status first', 'status first', 'create']);
});
