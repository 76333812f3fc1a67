import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, formatTable, plainValue } from './format.js';

test('client values become plain: timestamps by value, buffers base64, nested objects', () => {
  assert.equal(plainValue({ value: '2025-11-26T10:11:12.000Z' }), '2025-11-26T10:11:12.000Z');
  assert.equal(plainValue(Buffer.from('hi')), 'aGk=');
  assert.equal(plainValue(12n), '12');
  assert.deepEqual(plainValue({ a: { value: '2025-11-26' }, b: [1, null] }), { a: '2025-11-26', b: [1, null] });
});

test('tables: aligned columns, numbers on the right, NULL shown, long values cut', () => {
  const text = formatTable(
    [
      { name: 'alpha', n: 1, note: null },
      { name: 'b', n: 1234, note: 'x'.repeat(30) },
    ],
    { maxWidth: 10 },
  );
  assert.equal(text, ['name  | n    | note', '------+------+-----------', 'alpha |    1 | NULL', 'b     | 1234 | xxxxxxxxx…'].join('\n'));
  assert.equal(formatTable([], { columns: ['a'] }), 'a\n-');
  assert.equal(formatDuration(12.4), '12 ms');
  assert.equal(formatDuration(1530), '1.53 s');
});
