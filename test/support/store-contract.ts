// The contract of a Parquet store (services/core/src/files/store.ts), one suite run against each store: the local
// directory and the bucket prefix (against the Cloud Storage emulator).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileChecksums, FileExistsError, type ParquetStore } from '@cdc/core';
import { leftoverFiles } from '@cdc/processor';

export interface StoreUnderTest {
  store: ParquetStore;
  /** the local files of the store's own (temp files, write buffer) left behind, for "nothing left over" */
  scratchFiles(): string[];
}

const TOPIC = 'orders-cdc';
const name = (partition: number, first: number, last: number) => `${TOPIC}-p${partition}-${String(first).padStart(12, '0')}-${String(last).padStart(12, '0')}.parquet`;
const pathOf = (partition: number, first: number, last: number) => `${TOPIC}/dt=2026-01-01/${name(partition, first, last)}`;

async function put(store: ParquetStore, path: string, content: string) {
  return store.writeFinished(path, async (temp) => writeFileSync(temp, content));
}

/** `make` gives a fresh, empty store for each test. */
export function parquetStoreContract(label: string, make: () => Promise<StoreUnderTest>): void {
  describe(`Parquet store contract: ${label}`, () => {
    test('a finished file is in place under its final name with the checksums of its bytes; nothing else is left', async () => {
      const { store, scratchFiles } = await make();
      const path = pathOf(0, 0, 9);
      const written = await put(store, path, 'PAR1 rows PAR1');
      const stat = await store.stat(path);
      assert.deepEqual(stat, written);
      assert.equal(written.bytes, 14);
      assert.equal(store.kind === 'object', written.generation !== null, 'a generation exactly for objects');
      assert.equal(await store.locate(path), 'input');
      assert.deepEqual(await store.listTopic(TOPIC), [{ path, name: name(0, 0, 9) }]);
      assert.deepEqual(await store.listPending(), [path]);
      assert.deepEqual(scratchFiles(), [], 'no temp file left');
      const copy = await store.localCopy(path, written.generation);
      assert.equal(readFileSync(copy.path, 'utf8'), 'PAR1 rows PAR1');
      assert.deepEqual({ ...(await fileChecksums(copy.path)) }, { md5: written.md5, crc32c: written.crc32c, bytes: written.bytes });
      await copy.release();
      assert.deepEqual(scratchFiles(), [], 'the local copy is released');
    });

    test('a write that fails leaves no file and no temp file', async () => {
      const { store, scratchFiles } = await make();
      const path = pathOf(0, 0, 9);
      await assert.rejects(
        store.writeFinished(path, async (temp) => {
          writeFileSync(temp, 'half');
          throw new Error('disk full');
        }),
        /disk full/,
      );
      assert.equal(await store.stat(path), null);
      assert.equal(await store.locate(path), 'missing');
      assert.deepEqual(await store.listPending(), []);
      assert.deepEqual(scratchFiles(), []);
    });

    test('the same bytes written again (a retry whose answer was lost) are accepted as they are', async () => {
      const { store } = await make();
      const path = pathOf(0, 0, 9);
      const first = await put(store, path, 'same bytes');
      const again = await put(store, path, 'same bytes');
      assert.deepEqual({ ...again, generation: null }, { ...first, generation: null });
      if (store.kind === 'object') assert.equal(again.generation, first.generation, 'the object was not replaced');
    });

    test("other bytes under a taken name: a bucket never replaces the object (another owner's file); a local rename replaces the file whole", async () => {
      const { store } = await make();
      const path = pathOf(0, 0, 9);
      const first = await put(store, path, 'first owner');
      if (store.kind === 'object') {
        await assert.rejects(put(store, path, 'second owner'), FileExistsError);
        assert.deepEqual(await store.stat(path), first, 'the first owner’s object is untouched');
      } else {
        const second = await put(store, path, 'second owner');
        assert.deepEqual(await store.stat(path), second);
      }
    });

    test("take-over: the partition's files at or after the committed offset are found and removed, nothing of other partitions or before it", async () => {
      const { store } = await make();
      const announced = pathOf(0, 0, 9);
      const leftover = pathOf(0, 10, 19);
      const otherPartition = pathOf(1, 10, 19);
      for (const path of [announced, leftover, otherPartition]) await put(store, path, path);
      const doomed = leftoverFiles(await store.listTopic(TOPIC), TOPIC, 0, 10);
      assert.deepEqual(doomed, [leftover]);
      await store.remove(doomed);
      await store.remove(doomed); // already gone is fine
      assert.deepEqual((await store.listTopic(TOPIC)).map((f) => f.path).sort(), [announced, otherPartition].sort());
    });

    test('quarantine moves the file beside its reason; with no file the reason alone is kept', async () => {
      const { store } = await make();
      const path = pathOf(0, 0, 9);
      await put(store, path, 'not parquet');
      const note = { reason: 'load_failed', error: 'No magic bytes', file_id: 'x', quarantined_at: '2026-01-01T00:00:00Z' };
      assert.equal(await store.quarantine(path, note), store.address(path, 'quarantine'));
      assert.equal(await store.locate(path), 'quarantine');
      assert.deepEqual(await store.quarantineNote(path), note);
      assert.deepEqual(await store.listPending(), []);
      const missing = pathOf(0, 10, 19);
      assert.equal(await store.quarantine(missing, { ...note, reason: 'missing_object' }), null);
      assert.equal((await store.quarantineNote(missing))?.reason, 'missing_object');
      assert.equal(await store.locate(missing), 'missing');
    });

    test('retention: a loaded file is kept under loaded/ until its time is up; 0 removes it at once', async () => {
      const { store } = await make();
      const kept = pathOf(0, 0, 9);
      const dropped = pathOf(0, 10, 19);
      await put(store, kept, 'kept');
      await put(store, dropped, 'dropped');
      await store.markLoaded(kept, 24);
      assert.equal(await store.locate(kept), 'loaded');
      assert.equal(await store.sweepLoaded(24), 0, 'not yet');
      await store.markLoaded(dropped, 0);
      assert.equal(await store.locate(dropped), 'missing');
      assert.deepEqual(await store.listPending(), []);
      assert.equal(await store.sweepLoaded(24, Date.now() + 25 * 3600_000), 1);
      assert.equal(await store.locate(kept), 'missing');
    });
  });
}
