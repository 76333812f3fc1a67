import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { BigQuery } from '@cdc/core/gcp';
import { Session, type SessionOptions } from './session.js';

const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };

/** A session on a BigQuery double that records the options of every query it is asked to run. */
function session(options: Partial<SessionOptions> = {}) {
  const queries: { query: string; maximumBytesBilled?: string }[] = [];
  const job = { getQueryResults: async () => [[], null, { jobComplete: true }] };
  const bigquery = { createQueryJob: async (q: { query: string; maximumBytesBilled?: string }) => (queries.push(q), [job]) } as unknown as BigQuery;
  let errors = '';
  const sink = (onText: (text: string) => void) => new Writable({ write: (chunk: Buffer, _encoding, done) => (onText(chunk.toString()), done()) });
  const s = new Session(bigquery, names, sink(() => undefined), sink((text) => (errors += text)), {
    json: false,
    maxWidth: 60,
    location: 'US',
    collection: 'orders',
    write: false,
    maximumBytesBilled: 1000,
    ...options,
  });
  return { s, queries, errors: () => errors };
}

test('without --write, DDL and DML are refused before reaching BigQuery; queries run, capped in bytes billed', async () => {
  const { s, queries, errors } = session();
  await s.runSql('DROP TABLE cdc.orders_changes; SELECT 1; DELETE FROM cdc.orders_current WHERE TRUE');
  assert.deepEqual(queries.map((q) => q.query), ['SELECT 1']);
  assert.equal(queries[0]!.maximumBytesBilled, '1000');
  assert.equal(s.failures, 2);
  assert.match(errors(), /REFUSED: DROP is not a query; this session only reads \(start it with --write/);
  assert.match(errors(), /REFUSED: DELETE is not a query/);
});

test('with --write, changes run, still capped', async () => {
  const { s, queries } = session({ write: true, maximumBytesBilled: 5 });
  await s.runSql('DROP TABLE cdc.scratch');
  assert.deepEqual(queries, [{ ...queries[0]!, query: 'DROP TABLE cdc.scratch', maximumBytesBilled: '5' }]);
  assert.equal(s.failures, 0);
});
