import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dayOf, fileId, fileName, leftoverFiles, parseFileName, parseTempName, relativeFilePath, tempName } from './file-layout.js';

const range = { topic: 'orders-cdc', partition: 4, firstOffset: 1200, lastOffset: 1299 };

test('file names carry topic, partition and zero-padded offsets, and parse back', () => {
  assert.equal(fileName(range), 'orders-cdc-p4-000000001200-000000001299.parquet');
  assert.equal(fileId(range), 'orders-cdc-p4-000000001200-000000001299');
  assert.deepEqual(parseFileName(fileName(range)), range);
  const odd = { topic: 'a-p1.x_y', partition: 12, firstOffset: 0, lastOffset: 1e12 + 5 };
  assert.deepEqual(parseFileName(fileName(odd)), odd, 'topics with -p and offsets past 12 digits parse');
  assert.equal(parseFileName('orders-cdc-p4-1200-1299.parquet'), null);
  assert.equal(parseFileName('orders-cdc-p4-000000001299-000000001200.parquet'), null, 'first after last');
  assert.equal(parseFileName('notes.txt'), null);
});

test('names sort by offset', () => {
  const names = [9, 10, 100, 2].map((o) => fileName({ ...range, firstOffset: o, lastOffset: o }));
  assert.deepEqual([...names].sort(), [2, 9, 10, 100].map((o) => fileName({ ...range, firstOffset: o, lastOffset: o })));
});

test('temp names are hidden and map back to the final name', () => {
  assert.equal(tempName('x.parquet'), '.x.parquet.tmp');
  assert.equal(parseTempName('.x.parquet.tmp'), 'x.parquet');
  assert.equal(parseTempName('x.parquet'), null);
});

test('files are grouped by the UTC day of their oldest change', () => {
  assert.equal(dayOf(Date.UTC(2026, 0, 31, 23, 59, 59) / 1000), '2026-01-31');
  assert.equal(dayOf(Date.UTC(2026, 1, 1) / 1000), '2026-02-01');
  assert.equal(relativeFilePath(range, Date.UTC(2026, 1, 1, 12) / 1000), 'orders-cdc/dt=2026-02-01/orders-cdc-p4-000000001200-000000001299.parquet');
});

test('recovery removes unannounced files and temp files of its own partition only', () => {
  const entry = (day: string, name: string) => ({ name, path: `orders-cdc/dt=${day}/${name}` });
  const file = (partition: number, first: number, last: number) => fileName({ topic: 'orders-cdc', partition, firstOffset: first, lastOffset: last });
  const files = [
    entry('2026-01-01', file(4, 0, 99)), // announced (below committed)
    entry('2026-01-01', file(4, 100, 199)), // announced: ends right before committed
    entry('2026-01-02', file(4, 200, 250)), // crash between rename and commit
    entry('2026-01-02', file(4, 251, 300)), // same
    entry('2026-01-02', tempName(file(4, 200, 400))), // crash while writing
    entry('2026-01-02', file(5, 200, 300)), // another partition: not ours to judge
    entry('2026-01-02', tempName(file(5, 300, 400))),
    entry('2026-01-02', 'orders-cdc-p40-000000000200-000000000300.parquet'), // partition 40, not 4
    entry('2026-01-02', 'README'),
  ];
  assert.deepEqual(leftoverFiles(files, 'orders-cdc', 4, 200), [
    `orders-cdc/dt=2026-01-02/${file(4, 200, 250)}`,
    `orders-cdc/dt=2026-01-02/${file(4, 251, 300)}`,
    `orders-cdc/dt=2026-01-02/${tempName(file(4, 200, 400))}`,
  ]);
  assert.deepEqual(leftoverFiles(files, 'orders-cdc', 4, 0).length, 5, 'committed 0: every file of the partition is unannounced');
  assert.deepEqual(
    leftoverFiles(files, 'orders-cdc', 4, null),
    [`orders-cdc/dt=2026-01-02/${tempName(file(4, 200, 400))}`],
    'no committed offset: only temp files, never files that might have been announced',
  );
  assert.deepEqual(leftoverFiles(files, 'other-topic', 4, 0), []);
});
