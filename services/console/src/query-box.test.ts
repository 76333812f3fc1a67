import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueryTimeout, type QueryResult } from '@cdc/analysis-tool';
import { MAX_BODY_BYTES, QueryBox, type QueryRequest } from './query-box.js';

const RESULT: QueryResult = { columns: ['n'], rows: [{ n: 1 }], truncated: false, elapsedMs: 3 };

/** A query box whose runner records what reaches it (what would reach BigQuery). */
function box(run: (sql: string) => Promise<QueryResult> = async () => RESULT) {
  const ran: string[] = [];
  return { ran, box: new QueryBox((sql) => (ran.push(sql), run(sql))) };
}

/** A request as the console's own page sends it. */
function fromPage(sql: unknown, overrides: Partial<QueryRequest> & { headers?: QueryRequest['headers'] } = {}): QueryRequest {
  return {
    method: 'POST',
    body: JSON.stringify({ sql }),
    ...overrides,
    headers: { host: '127.0.0.1:8084', origin: 'http://127.0.0.1:8084', 'sec-fetch-site': 'same-origin', 'content-type': 'application/json', ...overrides.headers },
  };
}

test('a query from the page runs through the runner and comes back as rows', async () => {
  const { ran, box: b } = box();
  assert.deepEqual(await b.handle(fromPage('  SELECT 1 AS n; ')), { status: 200, body: { result: RESULT } });
  assert.deepEqual(ran, ['SELECT 1 AS n']);
  assert.equal((await b.handle(fromPage('WITH x AS (SELECT 1 AS n) SELECT * FROM x', { headers: { host: 'localhost:8084', origin: 'http://localhost:8084' } }))).status, 200);
});

test('DML, DDL, scripts and several statements are refused with the keyword named (the answer to the query, 200); BigQuery never sees them', async () => {
  const { ran, box: b } = box();
  const cases: [string, RegExp][] = [
    ['DELETE FROM cdc.orders_current WHERE TRUE', /^Refused: DELETE is not a query: only queries run here/],
    ['/* SELECT */ DROP TABLE cdc.orders_changes', /^Refused: DROP is not a query/],
    ['INSERT INTO cdc.t SELECT 1', /^Refused: INSERT is not a query/],
    ['MERGE cdc.t USING s ON FALSE WHEN NOT MATCHED THEN INSERT ROW', /^Refused: MERGE is not a query/],
    ['CREATE OR REPLACE VIEW cdc.v AS SELECT 1', /^Refused: CREATE is not a query/],
    ['BEGIN SELECT 1; END', /^Refused: one statement at a time \(found 2\)/],
    ['DECLARE x INT64', /^Refused: DECLARE is not a query/],
    ["EXECUTE IMMEDIATE 'DROP TABLE t'", /^Refused: EXECUTE is not a query/],
    ['SELECT 1; DELETE FROM t WHERE TRUE', /^Refused: one statement at a time \(found 2\): scripts are not queries/],
    ['-- nothing', /^Refused: no statement to run/],
  ];
  for (const [sql, message] of cases) {
    const answer = await b.handle(fromPage(sql));
    assert.equal(answer.status, 200, sql);
    assert.ok('error' in answer.body && 'refused' in answer.body, sql);
    assert.match(answer.body.error, message, sql);
  }
  assert.deepEqual(ran, []);
});

test('requests that are not the page POSTing JSON are refused before the SQL is looked at', async () => {
  const { ran, box: b } = box();
  const refused = async (request: QueryRequest, status: number, message: RegExp) => {
    const answer = await b.handle(request);
    assert.equal(answer.status, status);
    assert.match('error' in answer.body ? answer.body.error : '', message);
  };
  await refused(fromPage('SELECT 1', { method: 'GET' }), 405, /POSTed/);
  await refused(fromPage('SELECT 1', { headers: { origin: 'http://evil.example' } }), 403, /Origin is not the console/);
  await refused(fromPage('SELECT 1', { headers: { origin: undefined } }), 403, /Origin is not the console/);
  await refused(fromPage('SELECT 1', { headers: { 'sec-fetch-site': 'cross-site' } }), 403, /not a same-origin request/);
  // a name another site pointed at the loopback: its own page is "same origin" with it
  await refused(fromPage('SELECT 1', { headers: { host: 'rebound.example:8084', origin: 'http://rebound.example:8084' } }), 403, /by its address/);
  // a form of another site can post text/plain without a preflight
  await refused(fromPage('SELECT 1', { headers: { 'content-type': 'text/plain' } }), 403, /as JSON/);
  await refused(fromPage('SELECT 1', { body: null }), 413, new RegExp(`longer than ${MAX_BODY_BYTES / 1024} KiB`));
  await refused(fromPage('SELECT 1', { body: '{"sql": 1' }), 400, /\{"sql": "SELECT \.\.\."\}/);
  await refused(fromPage(42), 400, /\{"sql"/);
  assert.deepEqual(ran, []);
});

test('one query at a time; a timeout and an unreachable BigQuery are told apart, with no address on the page', async () => {
  let release: (result: QueryResult) => void = () => undefined;
  const { box: b } = box(() => new Promise((resolve) => (release = resolve)));
  const first = b.handle(fromPage('SELECT 1'));
  assert.deepEqual(await b.handle(fromPage('SELECT 2')), { status: 429, body: { error: 'a query is running: one at a time' } });
  release(RESULT);
  assert.equal((await first).status, 200);

  const timedOut = box(async () => {
    throw new QueryTimeout(30000, 'no result (the query was cancelled)');
  });
  assert.deepEqual(await timedOut.box.handle(fromPage('SELECT 1')), { status: 200, body: { error: 'BigQuery gave no result (the query was cancelled) within 30 s' } });
  const refusedConnection = box(async () => {
    throw Object.assign(new Error('request to http://127.0.0.1:9050/bigquery/v2/projects/p/jobs failed, reason: connect ECONNREFUSED 127.0.0.1:9050'), { code: 'ECONNREFUSED' });
  });
  assert.deepEqual(await refusedConnection.box.handle(fromPage('SELECT 1')), { status: 200, body: { error: 'BigQuery did not answer (ECONNREFUSED)' } });
  const badSql = box(async () => {
    throw Object.assign(new Error('Unrecognized name: nope at [1:8]'), { code: 400, errors: [{ reason: 'invalidQuery' }] });
  });
  assert.deepEqual(await badSql.box.handle(fromPage('SELECT nope')), { status: 200, body: { error: 'HTTP 400 invalidQuery: Unrecognized name: nope at [1:8]' } });
});
