import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isOnlyComments, splitStatements } from './statements.js';

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
