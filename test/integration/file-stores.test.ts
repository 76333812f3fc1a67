// Both Parquet stores pass the same contract: the local directory (today's single-host path) and a bucket prefix
// in the Cloud Storage emulator (processors and loader on separate hosts).
import { after } from 'node:test';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalParquetStore } from '@cdc/core';
import { createStorageClient, ObjectParquetStore } from '@cdc/core/gcp';
import { infra, uniqueName } from '../support/infra.js';
import { parquetStoreContract } from '../support/store-contract.js';

const scratchDirs: string[] = [];
after(() => scratchDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}

/** Every file under a directory, relative (the temp files a store may leave). */
function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
  } catch {
    return [];
  }
}

parquetStoreContract('local directory', async () => {
  const root = scratch('parquet-store-');
  const store = new LocalParquetStore(root);
  // temp files are hidden names beside the final ones
  return { store, scratchFiles: () => filesUnder(root).filter((f) => f.split('/').some((part) => part.startsWith('.'))) };
});

const storage = createStorageClient({ GCP_PROJECT: infra.bigqueryProject, GCS_ENDPOINT: infra.gcsEndpoint });

parquetStoreContract('bucket prefix (Cloud Storage emulator)', async () => {
  const bucket = uniqueName('store');
  await storage.createBucket(bucket);
  const scratchDir = scratch('parquet-buffer-');
  const store = new ObjectParquetStore(storage, { bucket, prefix: 'parquet/', scratchDir, resumableMinBytes: 8 * 1024 * 1024, requestTimeoutMs: 60_000, transferTimeoutMs: 900_000 });
  return { store, scratchFiles: () => filesUnder(scratchDir) };
});
