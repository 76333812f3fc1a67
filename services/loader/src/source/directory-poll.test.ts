import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planScan } from './directory-poll.js';

test('a scan keeps the loadable files in source order, unknown names skipped', () => {
  const files = planScan([
    't/dt=2025-11-27/t-p0-000000000010-000000000019.parquet',
    't/dt=2025-11-26/t-p1-000000000000-000000000004.parquet',
    't/dt=2025-11-26/t-p0-000000000000-000000000009.parquet',
    't/dt=2025-11-26/readme.parquet',
  ]);
  assert.deepEqual(
    files.map((f) => `${f.partition}:${f.firstOffset}`),
    ['0:0', '0:10', '1:0'],
  );
});
