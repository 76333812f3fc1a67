import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldKind, FieldPath } from './field-kinds.js';
import { columnNames, sanitizeName, sqlString, typedColumns, typedViewNames, typedViewStatements, type FieldRecord } from './view-sql.js';

const r = (path: FieldPath, kind: FieldKind): FieldRecord => ({ path, kind });
const typesOf = (records: FieldRecord[]) => Object.fromEntries(typedColumns(records).columns.map((c) => [c.name, c.type]));

test('BSON kinds map to BigQuery types', () => {
  const cases: [string, FieldRecord[], Record<string, string>][] = [
    ['Int32', [r(['n'], 'int32')], { n: 'INT64' }],
    ['Int64', [r(['n'], 'int64')], { n: 'INT64' }],
    ['Double', [r(['n'], 'double')], { n: 'FLOAT64' }],
    ['Decimal128 that fits NUMERIC', [r(['n'], 'numeric')], { n: 'NUMERIC' }],
    ['Decimal128 that needs BIGNUMERIC', [r(['n'], 'numeric'), r(['n'], 'bignumeric')], { n: 'BIGNUMERIC' }],
    ['Date', [r(['d'], 'date')], { d: 'TIMESTAMP' }],
    ['ObjectId', [r(['_id'], 'objectId')], { _id: 'STRING' }],
    ['Boolean', [r(['b'], 'bool')], { b: 'BOOL' }],
    ['String', [r(['s'], 'string')], { s: 'STRING' }],
    ['binary and other types', [r(['x'], 'other')], { x: 'JSON' }],
    ['only ever null', [r(['x'], 'null')], { x: 'JSON' }],
    ['null then a type', [r(['x'], 'null'), r(['x'], 'string')], { x: 'STRING' }],
    ['embedded document', [r(['a'], 'document'), r(['a', 'city'], 'string'), r(['a', 'zip'], 'int32')], { a: 'STRUCT<city STRING, zip INT64>' }],
    ['empty documents only', [r(['a'], 'document')], { a: 'JSON' }],
    ['array of strings', [r(['t'], 'array'), r(['t', null], 'string')], { t: 'ARRAY<STRING>' }],
    ['array of documents', [r(['i'], 'array'), r(['i', null], 'document'), r(['i', null, 'sku'], 'string'), r(['i', null, 'qty'], 'int64')], { i: 'ARRAY<STRUCT<qty INT64, sku STRING>>' }],
    ['empty arrays only', [r(['t'], 'array')], { t: 'JSON' }],
    ['arrays of arrays', [r(['m'], 'array'), r(['m', null], 'array'), r(['m', null, null], 'int32')], { m: 'JSON' }],
  ];
  for (const [what, records, expected] of cases) assert.deepEqual(typesOf(records), expected, what);
});

test('drift: numbers widen; a column that cannot hold every value exactly gets a raw JSON companion', () => {
  const cases: [string, FieldRecord[], Record<string, string>, { kinds: FieldKind[]; companion: string | null } | null][] = [
    ['Int32 and Int64: INT64, exact', [r(['n'], 'int32'), r(['n'], 'int64')], { n: 'INT64' }, { kinds: ['int32', 'int64'], companion: null }],
    ['integers and decimals: NUMERIC, exact', [r(['n'], 'int32'), r(['n'], 'numeric')], { n: 'NUMERIC' }, { kinds: ['int32', 'numeric'], companion: null }],
    ['Int32 and Double: FLOAT64 + raw', [r(['n'], 'int32'), r(['n'], 'double')], { n: 'FLOAT64', n_json: 'JSON' }, { kinds: ['int32', 'double'], companion: 'n_json' }],
    ['Decimal and Double: NUMERIC + raw', [r(['n'], 'numeric'), r(['n'], 'double')], { n: 'NUMERIC', n_json: 'JSON' }, { kinds: ['numeric', 'double'], companion: 'n_json' }],
    ['decimal beyond BIGNUMERIC: + raw', [r(['n'], 'numeric'), r(['n'], 'decimalOutOfRange')], { n: 'NUMERIC', n_json: 'JSON' }, { kinds: ['numeric', 'decimalOutOfRange'], companion: 'n_json' }],
    ['date beyond TIMESTAMP: + raw', [r(['d'], 'dateOutOfRange')], { d: 'TIMESTAMP', d_json: 'JSON' }, { kinds: ['dateOutOfRange'], companion: 'd_json' }],
    ['string then number: stays STRING + raw', [r(['s'], 'string'), r(['s'], 'int32')], { s: 'STRING', s_json: 'JSON' }, { kinds: ['string', 'int32'], companion: 's_json' }],
    ['number then string: stays a number + raw', [r(['s'], 'int32'), r(['s'], 'string')], { s: 'INT64', s_json: 'JSON' }, { kinds: ['int32', 'string'], companion: 's_json' }],
    ['array with null elements + raw', [r(['t'], 'array'), r(['t', null], 'string'), r(['t', null], 'null')], { t: 'ARRAY<STRING>', t_json: 'JSON' }, { kinds: ['array'], companion: 't_json' }],
    ['null is no drift', [r(['s'], 'null'), r(['s'], 'string')], { s: 'STRING' }, null],
  ];
  for (const [what, records, types, drift] of cases) {
    const { columns, drifts } = typedColumns(records);
    assert.deepEqual(Object.fromEntries(columns.map((c) => [c.name, c.type])), types, what);
    assert.deepEqual(drifts.map(({ kinds, companion }) => ({ kinds, companion })), drift ? [drift] : [], what);
  }
});

test('a drift inside an array of documents gets its companion inside the struct', () => {
  const { columns, drifts } = typedColumns([r(['i'], 'array'), r(['i', null], 'document'), r(['i', null, 'qty'], 'int32'), r(['i', null, 'qty'], 'double')]);
  assert.deepEqual(columns.map((c) => c.type), ['ARRAY<STRUCT<qty FLOAT64, qty_json JSON>>']);
  assert.deepEqual(drifts, [{ field: 'i[].qty', kinds: ['int32', 'double'], column: 'i[].qty', companion: 'i[].qty_json' }]);
});

test('expressions read the Extended JSON wrappers and never fail on a value of another type', () => {
  const byName = (records: FieldRecord[]) => Object.fromEntries(typedColumns(records).columns.map((c) => [c.name, c.expr]));
  assert.equal(byName([r(['n'], 'int32'), r(['n'], 'int64')]).n, `COALESCE(SAFE_CAST(JSON_VALUE(document, '$."n"."$numberInt"') AS INT64), SAFE_CAST(JSON_VALUE(document, '$."n"."$numberLong"') AS INT64))`);
  assert.equal(byName([r(['t'], 'numeric')]).t, `SAFE.PARSE_NUMERIC(JSON_VALUE(document, '$."t"."$numberDecimal"'))`);
  assert.equal(byName([r(['d'], 'date')]).d, `SAFE.TIMESTAMP_MILLIS(SAFE_CAST(JSON_VALUE(document, '$."d"."$date"."$numberLong"') AS INT64))`);
  const quoted = typedColumns([r(["it's"], 'string')]).columns[0]!;
  assert.match(quoted.name, /^it_s_[0-9a-f]{6}$/);
  assert.equal(quoted.expr, `JSON_VALUE(document, '$."it\\'s"')`);
});

test('column names: valid keys keep theirs; others get a stable hashed name; metadata names are reserved', () => {
  const names = columnNames(['status', 'a.b', 'a_b', '1st', 'prénom', '_document', '_PARTITIONTIME', 'Status'], ['_document']);
  assert.equal(names.get('a_b'), 'a_b');
  assert.match(names.get('a.b')!, /^a_b_[0-9a-f]{6}$/);
  assert.match(names.get('1st')!, /^_1st_[0-9a-f]{6}$/);
  assert.match(names.get('pr\u00e9nom')!, /^pr_nom_[0-9a-f]{6}$/);
  assert.match(names.get('_document')!, /^_document_[0-9a-f]{6}$/);
  assert.match(names.get('_PARTITIONTIME')!, /^f_PARTITIONTIME_[0-9a-f]{6}$/);
  // BigQuery compares names case-insensitively: the second spelling is hashed.
  assert.equal(names.get('Status'), 'Status');
  assert.match(names.get('status')!, /^status_[0-9a-f]{6}$/);
  // Stable: the name of a key does not depend on the other keys.
  assert.equal(columnNames(['a.b'], []).get('a.b'), names.get('a.b'));
  assert.equal(sanitizeName('orders.archive'), 'orders_archive');
});

test('view names and statements: current state and deduplicated history of one collection', () => {
  assert.deepEqual(typedViewNames('orders'), { current: 'orders', history: 'orders_history' });
  const names = { project: 'p', dataset: 'cdc', changesTable: 'orders_changes', currentTable: 'orders_current' };
  const { columns } = typedColumns([r(['total'], 'numeric')]);
  const { current, history } = typedViewStatements(names, "o'rders", columns);
  assert.match(current, /^CREATE OR REPLACE VIEW `p\.cdc\.o_rders`/);
  assert.match(current, /FROM `p\.cdc\.orders_current`\nWHERE coll = 'o\\'rders'$/);
  assert.match(current, /SAFE\.PARSE_NUMERIC\(JSON_VALUE\(document, '\$\."total"\."\$numberDecimal"'\)\) AS `total`,/);
  assert.match(history, /^CREATE OR REPLACE VIEW `p\.cdc\.o_rders_history`/);
  assert.match(history, /QUALIFY ROW_NUMBER\(\) OVER \(PARTITION BY event_id ORDER BY kafka_offset\) = 1$/);
  assert.equal(sqlString('a\\b'), "'a\\\\b'");
});
