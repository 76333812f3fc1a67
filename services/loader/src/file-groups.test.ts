import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '@cdc/core';
import { loaderConfigSchema } from './config.js';
import { FileGroups, groupStartAt, takeGroup, type GroupLoader } from './file-groups.js';
import type { LoadableFile } from './transform/loadable-file.js';

const settings = { windowMs: 1000, maxFiles: 3, maxBytes: 100, retryBaseMs: 1, retryMaxMs: 1 };
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

/** A loader double: records the groups it is given, loads each after `ms`. */
function fakeLoader(ms = 5) {
  const groups: string[][] = [];
  const loader = {
    loadGroup: async (entries: readonly { file: { path: string } }[]) => {
      groups.push(entries.map((e) => e.file.path));
      await new Promise((resolve) => setTimeout(resolve, ms));
      return entries.map(() => 'loaded' as const);
    },
    rejectEvent: async () => undefined,
  };
  return { groups, loader: loader as unknown as GroupLoader };
}
const silent = { warn: () => undefined } as unknown as Logger;
/** the stop signal of a service not stopping */
const running = new AbortController().signal;
const origin = { key: null, event: null, source: null };
const loadable = (path: string) => ({ path, bytes: 10 }) as unknown as LoadableFile;

test('files handed in together load as one group; those arriving while it loads form the next', async () => {
  const { groups, loader } = fakeLoader(50);
  const fileGroups = new FileGroups(loader, { nextStart: () => 0 }, silent, { ...settings, windowMs: 20, maxFiles: 100, maxBytes: 1e9 }, running);
  const first = ['a', 'b', 'c'].map((p) => fileGroups.submit(loadable(p), origin));
  await new Promise((resolve) => setTimeout(resolve, 40));
  const second = ['d', 'e'].map((p) => fileGroups.submit(loadable(p), origin));
  assert.deepEqual(await Promise.all([...first, ...second]), ['loaded', 'loaded', 'loaded', 'loaded', 'loaded']);
  assert.deepEqual(groups, [['a', 'b', 'c'], ['d', 'e']]);
});

test('the budget holds a group back; stopping hands waiting files back without loading them', async () => {
  const { groups, loader } = fakeLoader();
  const stop = new AbortController();
  const fileGroups = new FileGroups(loader, { nextStart: () => Date.now() + 60_000 }, silent, { ...settings, windowMs: 1, maxFiles: 1, maxBytes: 1e9 }, stop.signal);
  const waiting = fileGroups.submit(loadable('a'), origin);
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.deepEqual(groups, [], 'not before the budget allows, even when full');
  stop.abort();
  await fileGroups.stop();
  await assert.rejects(waiting, /loader stopping/);
  await assert.rejects(fileGroups.submit(loadable('b'), origin), /loader stopping/);
  assert.deepEqual(groups, []);
});

test('a failed group is tried again with the files that arrived meanwhile, until it loads', async () => {
  const attempts: string[][] = [];
  let later: Promise<unknown> | undefined;
  const loader = {
    loadGroup: async (entries: readonly { file: { path: string } }[]) => {
      attempts.push(entries.map((e) => e.file.path));
      // a file that arrives while the group fails (not after a fixed sleep: a busy machine reorders those)
      if (attempts.length === 1) later = fileGroups.submit(loadable('c'), origin);
      if (attempts.length < 3) throw new Error('backend down');
      return entries.map(() => 'loaded' as const);
    },
  } as unknown as GroupLoader;
  const fileGroups = new FileGroups(loader, { nextStart: () => 0 }, silent, { ...settings, windowMs: 1, maxFiles: 10, maxBytes: 1e9, retryBaseMs: 10, retryMaxMs: 20 }, running);
  const first = ['a', 'b'].map((p) => fileGroups.submit(loadable(p), origin));
  assert.deepEqual(await Promise.all(first), ['loaded', 'loaded']);
  assert.equal(await later, 'loaded');
  assert.equal(attempts.length, 3);
  assert.deepEqual(attempts[0], ['a', 'b']);
  assert.deepEqual(attempts[2], ['a', 'b', 'c'], 'the retried group takes the newcomer along');
});

test('stopping while a failed group waits for its retry hands its files back', async () => {
  const loader = { loadGroup: async () => Promise.reject(new Error('backend down')) } as unknown as GroupLoader;
  const stop = new AbortController();
  const fileGroups = new FileGroups(loader, { nextStart: () => 0 }, silent, { ...settings, windowMs: 1, maxFiles: 10, maxBytes: 1e9, retryBaseMs: 60_000, retryMaxMs: 60_000 }, stop.signal);
  const files = ['a', 'b'].map((p) => fileGroups.submit(loadable(p), origin));
  await new Promise((resolve) => setTimeout(resolve, 20));
  stop.abort();
  await fileGroups.stop();
  const results = await Promise.allSettled(files);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
});
