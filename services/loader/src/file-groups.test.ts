import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loaderConfigSchema } from './config.js';
import { groupStartAt, takeGroup } from './file-groups.js';

const settings = { windowMs: 1000, maxFiles: 3, maxBytes: 100 };
const file = (at: number, bytes: number) => ({ at, file: { bytes } });

test('a group starts after its window from the first file, at once when full, never before the budget allows', () => {
  assert.equal(groupStartAt([file(5000, 10)], settings, 0, 5100), 6000, 'window from the first file');
  assert.equal(groupStartAt([file(5000, 10), file(5050, 10), file(5090, 10)], settings, 0, 5100), 5100, 'full by files');
  assert.equal(groupStartAt([file(5000, 60), file(5050, 60)], settings, 0, 5100), 5100, 'full by bytes');
  assert.equal(groupStartAt([file(5000, 10)], settings, 90_000, 5100), 90_000, 'the budget stretches the window');
  assert.equal(groupStartAt([file(5000, 10), file(5050, 10), file(5090, 10)], settings, 90_000, 5100), 90_000, 'also when full');
});

test('a group takes files from the front up to the file and byte limits, at least one', () => {
  const pending = [file(1, 40), file(2, 40), file(3, 40), file(4, 10)];
  assert.deepEqual(takeGroup(pending, settings).map((p) => p.at), [1, 2]);
  assert.deepEqual(takeGroup(pending, settings).map((p) => p.at), [3, 4]);
  assert.deepEqual(takeGroup([file(9, 500)], settings).map((p) => p.at), [9], 'a file larger than the limit alone');
  assert.deepEqual(takeGroup([1, 2, 3, 4, 5].map((n) => file(n, 1)), settings).length, 3);
});

test('shipped defaults: a 10 s window, up to 1,000 files or 2 GiB per group, 1,000 load jobs a day', () => {
  const config = loaderConfigSchema.parse({});
  assert.deepEqual(
    [config.LOADER_GROUP_WINDOW_MS, config.LOADER_GROUP_MAX_FILES, config.LOADER_GROUP_MAX_BYTES, config.LOADER_LOAD_JOBS_PER_DAY],
    [10000, 1000, 2 * 1024 ** 3, 1000],
  );
});
