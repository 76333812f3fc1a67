import { test } from 'node:test';
import assert from 'node:assert/strict';
import { changingKeyword, isOnlyComments, splitStatements } from './statements.js';

test('statements end at semicolons outside quotes, backticks and comments', () => {
  const { statements, rest } = splitStatements("SELECT ';' AS a, \"x;y\" AS b FROM `p.d.t;` -- c;\nWHERE 1 = 1; /* ; */ SELECT 2;\nSELECT 3");
  assert.deepEqual(statements, ["SELECT ';' AS a, \"x;y\" AS b FROM `p.d.t;` -- c;\nWHERE 1 = 1", '/* ; */ SELECT 2']);
  assert.equal(rest.trim(), 'SELECT 3');
});

test('triple-quoted strings, escapes, and empty statements', () => {
  assert.deepEqual(splitStatements("SELECT '''a;\n'b''' ;;  ; SELECT 'it\\'s;';").statements, ["SELECT '''a;\n'b'''", "SELECT 'it\\'s;'"]);
  assert.deepEqual(splitStatements('-- only a comment;\n').statements, []);
  assert.ok(isOnlyComments('  -- x\n /* y */ # z'));
  assert.ok(!isOnlyComments('-- x\nSELECT 1'));
});

test('only queries count as read-only; DDL, DML and scripts are named by their keyword', () => {
  for (const query of ['SELECT 1', '  with x AS (SELECT 1) SELECT * FROM x', '/* note */ (SELECT 1) UNION ALL (SELECT 2)', '-- why\nSELECT 1']) assert.equal(changingKeyword(query), null, query);
  assert.equal(changingKeyword('DROP TABLE cdc.orders_changes'), 'DROP');
  assert.equal(changingKeyword('-- SELECT\ndelete FROM cdc.orders_current WHERE TRUE'), 'DELETE');
  assert.equal(changingKeyword('/* SELECT */ INSERT INTO t SELECT 1'), 'INSERT');
  assert.equal(changingKeyword('MERGE t USING s ON FALSE WHEN NOT MATCHED THEN INSERT ROW'), 'MERGE');
  assert.equal(changingKeyword('CREATE OR REPLACE TABLE t AS SELECT 1'), 'CREATE');
  assert.equal(changingKeyword('BEGIN SELECT 1; END'), 'BEGIN');
  assert.equal(changingKeyword("CALL cdc.proc()"), 'CALL');
  assert.equal(changingKeyword('`p.d.t`'), '(unrecognised statement)');
});
