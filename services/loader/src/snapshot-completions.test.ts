import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '@cdc/core';
import { createLoaderMetrics } from './metrics.js';
import { SnapshotCompletions } from './snapshot-completions.js';
import type { BigQueryLoader } from './sink/bigquery-load.js';
import type { Statement } from './sink/sql.js';

const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };
const marker = { event_id: 'e'.repeat(32), db: 'shop', coll: 'orders', source_instance: 'cdc-0', t: 1764151872, i: 3, document: '{"snapshot_events":5}', kafka_topic: 'orders-cdc', kafka_partition: 1, kafka_offset: 77 };

/** A BigQuery that answers the marker look-up, the seen count (`seen`), and counts the DML it runs. */
function fakeBigQuery(seen: { value: number }) {
  const ran: string[] = [];
  const bigquery = {
    rows: async (statement: Statement) => (/op = 'snapshot_complete'/.test(statement.query) ? [marker] : [{ seen: seen.value }]),
    run: async (statement: Statement) => {
      const kind = statement.query.startsWith('INSERT') ? 'insert' : 'merge';
      ran.push(kind);
      return 2;
    },
  } as unknown as BigQueryLoader;
  return { bigquery, ran };
}

test('a marker waits on the shared disk until the changes table holds all its snapshot rows, then its deletes run once', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'completions-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const seen = { value: 3 };
  const { bigquery, ran } = fakeBigQuery(seen);
  const metrics = createLoaderMetrics(new Registry());
  const completions = new SnapshotCompletions(dir, bigquery, names, metrics, createLogger({ service: 'test', level: 'silent' }));
  await completions.record('stage');
  await completions.applyReady();
  assert.deepEqual(ran, [], '3 of 5 snapshot rows loaded: nothing deleted yet');
  assert.equal((await metrics.snapshotsWaiting.get()).values[0]?.value, 1);
  assert.deepEqual(await readdir(dir), [`${marker.event_id}.json`], 'kept for the next group, or the next start');

  seen.value = 5;
  // killed between the insert and the merge: the marker stays, the next attempt does both again (idempotent SQL)
  await assert.rejects(completions.applyReady(() => {
    throw new Error('killed');
  }));
  assert.deepEqual(await readdir(dir), [`${marker.event_id}.json`]);
  await completions.applyReady();
  assert.deepEqual(ran, ['insert', 'insert', 'merge']);
  assert.deepEqual(await readdir(dir), [], 'done: forgotten');
  assert.equal((await metrics.snapshotDeletes.get()).values[0]?.value, 2);
  assert.equal((await metrics.snapshotsWaiting.get()).values[0]?.value, 0);
  await completions.applyReady();
  assert.equal(ran.length, 3, 'nothing runs once no marker waits');
});
