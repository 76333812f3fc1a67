import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LocalParquetStore } from './store.js';

const roots: string[] = [];
after(() => roots.forEach((root) => rmSync(root, { recursive: true, force: true })));

function tree(): { root: string; files: LocalParquetStore; put(path: string): void } {
  const root = mkdtempSync(join(tmpdir(), 'parquet-store-'));
  roots.push(root);
  return {
    root,
    files: new LocalParquetStore(root),
    put(path: string) {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), 'PAR1');
    },
  };
}

test('pending files exclude loaded/, quarantine/ and hidden temp files; a file moves on and is found there', async () => {
  const { root, files, put } = tree();
  const a = 't/dt=2025-11-26/t-p0-000000000000-000000000001.parquet';
  put(a);
  put('t/dt=2025-11-26/.t-p0-000000000002-000000000003.parquet.tmp');
  put('loaded/t/dt=2025-11-25/old.parquet');
  put('quarantine/t/dt=2025-11-25/bad.parquet');
  assert.deepEqual(await files.listPending(), [a]);
  assert.equal(await files.locate(a), 'input');
  const before = statSync(join(root, a)).mtimeMs;
  utimesSync(join(root, a), new Date(before - 86400_000), new Date(before - 86400_000));
  await files.markLoaded(a, 24);
  assert.equal(await files.locate(a), 'loaded');
  assert.ok(statSync(join(root, 'loaded', a)).mtimeMs >= before - 1000, 'the retention clock starts at the move');
  assert.deepEqual(await files.listPending(), []);
});

test('quarantine moves the file and writes the reason beside it, also when there is no file', async () => {
  const { root, files, put } = tree();
  const a = 't/dt=2025-11-26/t-p0-000000000000-000000000001.parquet';
  put(a);
  const note = { reason: 'load_failed', error: 'No magic bytes', file_id: 'x', quarantined_at: '2026-01-01T00:00:00Z' };
  assert.equal(await files.quarantine(a, note), join(root, 'quarantine', a));
  assert.equal(await files.locate(a), 'quarantine');
  assert.deepEqual(await files.quarantineNote(a), note);
  const missing = 't/dt=2025-11-26/t-p0-000000000002-000000000003.parquet';
  assert.equal(await files.quarantine(missing, { ...note, reason: 'missing_file' }), null);
  assert.equal((await files.quarantineNote(missing))?.reason, 'missing_file');
  assert.equal(await files.locate(missing), 'missing');
});

test('retention: loaded files past it are removed with their empty directories; 0 deletes at once', async () => {
  const { root, files, put } = tree();
  put('loaded/t/dt=2025-11-20/old.parquet');
  put('loaded/t/dt=2025-11-26/new.parquet');
  const old = new Date(Date.now() - 48 * 3600_000);
  utimesSync(join(root, 'loaded/t/dt=2025-11-20/old.parquet'), old, old);
  assert.equal(await files.sweepLoaded(24), 1);
  assert.ok(!existsSync(join(root, 'loaded/t/dt=2025-11-20')));
  assert.ok(existsSync(join(root, 'loaded/t/dt=2025-11-26/new.parquet')));
  put('t/x/t-p0-000000000000-000000000001.parquet');
  await files.markLoaded('t/x/t-p0-000000000000-000000000001.parquet', 0);
  assert.equal(await files.locate('t/x/t-p0-000000000000-000000000001.parquet'), 'missing');
});
