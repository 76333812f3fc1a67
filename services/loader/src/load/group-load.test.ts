import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { CrashPoint } from './fault-points.js';
import { apiError, Crash, crashAt, eventOrigin, FakeWorld, records, type FakeRecord } from './fixtures/fakes.js';
import type { GroupEntry } from './entries.js';

/** Two files of two partitions, the second carrying a snapshot-complete marker whose snapshot's deletes wait. */
function twoFiles(world: FakeWorld): { entries: GroupEntry[]; all: FakeRecord[] } {
  const first = records(0, 0, 3);
  const second = records(1, 10, 2);
  world.completions.waiting = 1;
  const entries = [
    { file: world.disk.put('orders-cdc/p0/a.parquet', first), origin: eventOrigin(1) },
    { file: world.disk.put('orders-cdc/p1/b.parquet', second, { snapshotMarkers: 1 }), origin: eventOrigin(2) },
  ];
  return { entries, all: [...first, ...second] };
}

/** The group is in both tables once, marked, its staged objects and staging table gone, nothing dead-lettered. */
function assertLoadedOnce(world: FakeWorld, all: readonly FakeRecord[], paths: readonly string[], objectsLeft = 0): void {
  const { warehouse, bucket, disk, completions, deadLetters } = world;
  assert.equal(warehouse.changes.size, all.length, 'every record in the changes table');
  assert.deepEqual([...warehouse.insertions.values()].filter((n) => n !== 1), [], 'no record inserted twice');
  assert.ok(warehouse.holds(all), 'every document in the current table');
  assert.deepEqual([...paths].sort(), [...new Set(disk.marked)].sort(), 'every file marked');
  assert.equal(disk.marked.length, paths.length, 'no file marked twice');
  assert.equal(bucket.objects.size, objectsLeft, 'staged objects deleted');
  assert.deepEqual(bucket.removedEarly, [], 'no object deleted before both tables held its rows');
  assert.ok(!warehouse.staging.has(warehouse.lastStaging!), 'the staging table dropped (one of an attempt cut short expires)');
  assert.equal(completions.applied, 1, 'the waiting snapshot\'s deletes merged once');
  assert.deepEqual(deadLetters.sent, []);
}

describe('group load', () => {
  test('a group loads with one load job into both tables; a file announced twice in it loads once', async () => {
    const world = new FakeWorld();
    const { entries, all } = twoFiles(world);
    const outcomes = await world.loader().loadGroup([...entries, { file: entries[0]!.file, origin: eventOrigin(3) }]);
    assert.deepEqual(outcomes, ['loaded', 'loaded', 'already-loaded']);
    assertLoadedOnce(world, all, entries.map((e) => e.file.path));
    assert.equal(world.warehouse.loadJobs, 1);
    assert.equal(world.budget.taken, 1, 'the load job counted against the budget');
    assert.equal(world.completions.markersKept, 1, 'the marker kept before the marking');
    assert.deepEqual(world.views.updated, [['/data/orders-cdc/p0/a.parquet', '/data/orders-cdc/p1/b.parquet']]);
  });

  test('without a bucket the files load from the local disk, nothing staged', async () => {
    const world = new FakeWorld();
    const { entries, all } = twoFiles(world);
    assert.deepEqual(await world.loader({ viaBucket: false }).loadGroup(entries), ['loaded', 'loaded']);
    assertLoadedOnce(world, all, entries.map((e) => e.file.path));
    assert.deepEqual(world.bucket.uploads, []);
  });

  test('announced in a bucket: the load reads the objects, nothing staged; one replaced while the load job runs is quarantined (object_changed), the other loads', async () => {
    const world = new FakeWorld();
    world.disk.storeObjects();
    const first = records(0, 0, 3);
    const second = records(1, 10, 2);
    const entries = [
      { file: world.disk.put('orders-cdc/p0/a.parquet', first), origin: eventOrigin(1) },
      { file: world.disk.put('orders-cdc/p1/b.parquet', second), origin: eventOrigin(2) },
    ];
    assert.ok(entries[0]!.file.generation, 'announced with its generation');
    world.warehouse.duringLoad = () => world.disk.replace('orders-cdc/p0/a.parquet', records(0, 0, 1));
    assert.deepEqual(await world.loader().loadGroup(entries), ['quarantined', 'loaded']);
    assert.deepEqual(world.bucket.uploads, [], 'nothing staged');
    assert.equal(world.warehouse.changes.size, second.length, 'only the intact file reached the changes table');
    assert.ok(world.warehouse.holds(second));
    assert.deepEqual(world.deadLetters.reasons(), ['object_changed']);
    assert.equal(world.disk.notes.get('orders-cdc/p0/a.parquet')?.reason, 'object_changed');
    assert.match(world.disk.notes.get('orders-cdc/p0/a.parquet')!.error, /replaced or deleted during the load/);
    assert.deepEqual(world.disk.marked, ['orders-cdc/p1/b.parquet']);
  });

  const crashPoints: CrashPoint[] = ['upload', 'load', 'insert', 'merge', 'snapshot_deletes', 'mark'];
  for (const point of crashPoints) {
    test(`killed after ${point}: loading the group again inserts nothing twice and finishes every step`, async () => {
      const world = new FakeWorld();
      const { entries, all } = twoFiles(world);
      await assert.rejects(world.loader({ faults: crashAt(point) }).loadGroup(entries), Crash);
      assert.deepEqual(world.deadLetters.sent, [], 'a crash quarantines nothing');
      const outcomes = await world.loader().loadGroup(entries);
      const expected = point === 'mark' ? ['already-loaded', 'loaded'] : ['loaded', 'loaded'];
      assert.deepEqual(outcomes, expected, 'a file marked before the kill is found under loaded/');
      // that file's staged object is left to the bucket's lifecycle rule (GCS_STAGING_MAX_AGE_DAYS)
      assertLoadedOnce(world, all, entries.map((e) => e.file.path), point === 'mark' ? 1 : 0);
    });
  }

  const retriedSteps: { step: string; operation: Parameters<FakeWorld['failures']['next']>[0] }[] = [
    { step: 'upload', operation: 'upload' },
    { step: 'load', operation: 'loadStaging' },
    { step: 'insert', operation: 'insertNew' },
    { step: 'merge', operation: 'mergeGroup' },
    { step: 'snapshot markers', operation: 'record' },
    { step: 'snapshot deletes', operation: 'applyReady' },
    { step: 'typed views', operation: 'update' },
  ];
  for (const { step, operation } of retriedSteps) {
    test(`a transient error in ${step} is retried within the step`, async () => {
      const world = new FakeWorld();
      const { entries, all } = twoFiles(world);
      world.failures.next(operation, apiError(503, 'backendError'));
      assert.deepEqual(await world.loader().loadGroup(entries), ['loaded', 'loaded']);
      assert.equal(await world.retries(step), 1);
      assertLoadedOnce(world, all, entries.map((e) => e.file.path));
      assert.equal(world.health.problem(), null, 'loaded again: ready');
    });

    test(`a permission refusal in ${step} fails the group at once: nothing marked or quarantined; the group loads once allowed`, async () => {
      const world = new FakeWorld();
      const { entries, all } = twoFiles(world);
      world.failures.next(operation, apiError(403, 'accessDenied'));
      await assert.rejects(world.loader().loadGroup(entries), /accessDenied/);
      assert.equal(await world.retries(step), 0, 'not retried within the step');
      assert.deepEqual(world.disk.marked, []);
      assert.deepEqual(world.deadLetters.sent, []);
      assert.match(world.health.problem() ?? '', /downstream fault/, 'not ready at once');
      assert.deepEqual(await world.loader().loadGroup(entries), ['loaded', 'loaded']);
      assertLoadedOnce(world, all, entries.map((e) => e.file.path));
    });
  }

  describe('storage-write staging', () => {
    test('the rows go through the write API: no upload, no load job, nothing counted against the load-job budget', async () => {
      const world = new FakeWorld();
      const { entries, all } = twoFiles(world);
      assert.deepEqual(await world.loader({ staging: 'storage-write' }).loadGroup(entries), ['loaded', 'loaded']);
      assertLoadedOnce(world, all, entries.map((e) => e.file.path));
      assert.equal(world.warehouse.appends, 1);
      assert.equal(world.warehouse.loadJobs, 0);
      assert.equal(world.budget.taken, 0);
      assert.deepEqual(world.bucket.uploads, []);
      assert.equal((await world.metrics.appendedRows.get()).values[0]?.value, all.length);
    });

    for (const point of ['append', 'load', 'insert', 'merge', 'mark'] as const) {
      test(`killed after ${point}: a redo into a fresh staging table inserts nothing twice`, async () => {
        const world = new FakeWorld();
        const { entries, all } = twoFiles(world);
        await assert.rejects(world.loader({ staging: 'storage-write', faults: crashAt(point) }).loadGroup(entries), Crash);
        const outcomes = await world.loader({ staging: 'storage-write' }).loadGroup(entries);
        assert.deepEqual(outcomes, point === 'mark' ? ['already-loaded', 'loaded'] : ['loaded', 'loaded']);
        assertLoadedOnce(world, all, entries.map((e) => e.file.path));
      });
    }

    test('a file that cannot be read for the write API is quarantined alone; the others load', async () => {
      const world = new FakeWorld();
      const entries = [
        { file: world.disk.put('a.parquet', records(0, 0, 2)), origin: eventOrigin(1) },
        { file: world.disk.put('bad.parquet', records(1, 0, 2), { corrupt: true }), origin: eventOrigin(2) },
      ];
      assert.deepEqual(await world.loader({ staging: 'storage-write' }).loadGroup(entries), ['loaded', 'quarantined']);
      assert.deepEqual(world.deadLetters.reasons(), ['load_failed']);
      assert.equal(world.warehouse.changes.size, 2);
    });

    for (const operation of ['appendStaging', 'commitStaging'] as const) {
      test(`a transient write-API error (${operation}) is retried with a fresh staging table, never counted as loaded`, async () => {
        const world = new FakeWorld();
        const { entries, all } = twoFiles(world);
        world.failures.next(operation, ...Array.from({ length: world.retry.attempts }, () => apiError(429, 'quotaExceeded')));
        await assert.rejects(world.loader({ staging: 'storage-write' }).loadGroup(entries), /quotaExceeded/);
        assert.equal(await world.retries('load'), world.retry.attempts - 1);
        assert.equal(world.warehouse.changes.size, 0, 'nothing inserted');
        assert.deepEqual(world.disk.marked, []);
        assert.equal(world.warehouse.staging.size, 0, 'every failed attempt dropped its staging table');
        assert.deepEqual(await world.loader({ staging: 'storage-write' }).loadGroup(entries), ['loaded', 'loaded']);
        assertLoadedOnce(world, all, entries.map((e) => e.file.path));
      });
    }
  });

  test('a transient error that outlasts the attempts fails the group, nothing quarantined', async () => {
    const world = new FakeWorld();
    const { entries } = twoFiles(world);
    world.failures.next('insertNew', ...Array.from({ length: world.retry.attempts }, () => apiError(429, 'rateLimitExceeded')));
    await assert.rejects(world.loader().loadGroup(entries), /rateLimitExceeded/);
    assert.equal(await world.retries('insert'), world.retry.attempts - 1);
    assert.deepEqual(world.disk.marked, []);
    assert.deepEqual(world.deadLetters.sent, []);
    assert.equal(world.bucket.objects.size, 2, 'staged objects kept for the next attempt');
  });

  test('a load that blames the files loads them one by one: only the bad file is quarantined and dead-lettered', async () => {
    const world = new FakeWorld();
    const good = [records(0, 0, 2), records(1, 0, 2)];
    const entries = [
      { file: world.disk.put('a.parquet', good[0]!), origin: eventOrigin(1) },
      { file: world.disk.put('bad.parquet', records(2, 0, 2), { corrupt: true }), origin: eventOrigin(2) },
      { file: world.disk.put('c.parquet', good[1]!), origin: eventOrigin(3) },
    ];
    assert.deepEqual(await world.loader().loadGroup(entries), ['loaded', 'quarantined', 'loaded']);
    assert.equal(world.warehouse.changes.size, 4);
    assert.deepEqual(world.deadLetters.reasons(), ['load_failed']);
    assert.equal(await world.disk.locate('bad.parquet'), 'quarantine');
    assert.deepEqual(world.disk.marked, ['a.parquet', 'c.parquet']);
  });

  test('a stored object that differs from the announced file quarantines that file alone', async () => {
    const world = new FakeWorld();
    const entries = [
      { file: world.disk.put('a.parquet', records(0, 0, 2)), origin: eventOrigin(1) },
      { file: world.disk.put('b.parquet', records(1, 0, 2)), origin: eventOrigin(2) },
    ];
    world.bucket.garbled.add('a.parquet');
    assert.deepEqual(await world.loader().loadGroup(entries), ['quarantined', 'loaded']);
    assert.deepEqual(world.deadLetters.reasons(), ['checksum_mismatch']);
    assert.equal(world.warehouse.changes.size, 2);
  });

  test('verification: a wrong checksum or a missing file is quarantined; a file loaded before is recognised', async () => {
    const world = new FakeWorld();
    const tampered = { ...world.disk.put('tampered.parquet', records(0, 0, 2)), md5: 'other' };
    const missing = world.disk.put('missing.parquet', records(1, 0, 2));
    world.disk.files.delete('missing.parquet');
    const marked = world.disk.put('marked.parquet', records(2, 0, 2));
    await world.disk.markLoaded('marked.parquet');
    const gone = world.disk.put('gone.parquet', records(3, 0, 2));
    await world.loader().loadGroup([{ file: gone, origin: eventOrigin(0) }]);
    world.disk.files.delete('gone.parquet');
    const outcomes = await world.loader().loadGroup([tampered, missing, marked, gone].map((file, i) => ({ file, origin: eventOrigin(i + 1) })));
    assert.deepEqual(outcomes, ['quarantined', 'quarantined', 'already-loaded', 'already-loaded']);
    assert.deepEqual(world.deadLetters.reasons(), ['checksum_mismatch', 'missing_file']);
    assert.equal(world.warehouse.loadJobs, 1, 'only the first group was loaded');
  });

  test('a file quarantined earlier whose offset was not committed is reported again with its reason, not loaded', async () => {
    const world = new FakeWorld();
    const file = world.disk.put('bad.parquet', records(0, 0, 1), { corrupt: true });
    assert.deepEqual(await world.loader().loadGroup([{ file, origin: eventOrigin(1) }]), ['quarantined']);
    assert.deepEqual(await world.loader().loadGroup([{ file, origin: eventOrigin(1) }]), ['quarantined']);
    assert.deepEqual(world.deadLetters.reasons(), ['load_failed', 'load_failed']);
    assert.equal(world.warehouse.loadJobs, 1);
  });
});
