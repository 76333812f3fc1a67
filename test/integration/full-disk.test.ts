// The processor's Parquet volume fills up to the last byte (a small tmpfs, so the rest of the machine's disk is not
// touched): its batches fail with ENOSPC and are read again, /readyz says why; once space is freed the files are
// written and every event reaches BigQuery exactly once. Mounting a tmpfs needs root (the tests run as root in CI
// and in the containers); without it the test fails saying so, rather than skipping.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DOCUMENT_OPERATIONS, encodeChangeEvent } from '@cdc/core';
import { testKafka } from '../support/kafka.js';
import { bqRows, loaderScenario, table } from '../support/loader.js';
import { announcedFiles, createTopic, orderEvent, produce, waitFor, waitForCommittedToEnd, type Produced } from '../support/processor.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';

const kafka = testKafka();
const VOLUME_BYTES = 8 * 1024 * 1024;
// The processor is not ready below one batch's worth of free space: 1 MiB here, so the volume is ready when empty.
const BATCH_MAX_BYTES = 1024 * 1024;

function mountTmpfs(dir: string): void {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${VOLUME_BYTES}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`this test needs a small tmpfs as the Parquet volume: mount -t tmpfs failed (${stderr || (error as Error).message}); run the tests as root`);
  }
}

/** Writes `path` until the file system refuses (ENOSPC) at every size down to one byte: nothing is left free. */
function fillUp(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (const size of [1024 * 1024, 4096, 1]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

const orders = (from: number, count: number) =>
  Array.from({ length: count }, (_, k) => {
    const event = orderEvent(DOCUMENT_OPERATIONS[(from + k) % DOCUMENT_OPERATIONS.length]!, from + k);
    return { partition: 0, key: event.document_id, value: encodeChangeEvent(event), event };
  });

test('the Parquet volume full to the last byte: batches fail and are read again, /readyz 503 naming the volume; space freed: ready again, every event in BigQuery once', async () => {
  const s = loaderScenario('full-disk');
  const processorGroup = `${s.prefix}-processor`;
  mountTmpfs(s.inputDir);
  let processor: ServiceProcess | undefined;
  let loader: ServiceProcess | undefined;
  try {
    await createTopic(kafka, s.topic, 1);
    await createTopic(kafka, s.filesTopic, 1);
    processor = await startService('processor', {
      KAFKA_BROKERS: s.env().KAFKA_BROKERS!,
      KAFKA_CLIENT_ID: s.prefix,
      PROCESSOR_TOPICS: s.topic,
      PROCESSOR_GROUP_ID: processorGroup,
      PROCESSOR_FILES_TOPIC: s.filesTopic,
      PROCESSOR_OUTPUT_DIR: s.inputDir,
      PROCESSOR_BATCH_MAX_ROWS: '20',
      PROCESSOR_BATCH_MAX_BYTES: String(BATCH_MAX_BYTES),
      PROCESSOR_BATCH_MAX_AGE_MS: '400',
      PROCESSOR_SESSION_TIMEOUT_MS: '6000',
      SHUTDOWN_TIMEOUT_MS: '10000',
    }, 'processor-full-disk');
    loader = await startService('loader', s.env(), 'loader-full-disk');
    await Promise.all([processor.waitReady(), loader.waitReady()]);

    const produced: Produced[] = await produce(kafka, s.topic, orders(0, 20));
    await waitForCommittedToEnd(kafka, processorGroup, s.topic);

    fillUp(join(s.inputDir, 'filler'));
    const stats = statfsSync(s.inputDir);
    assert.equal(stats.bavail * stats.bsize, 0, 'nothing left free');
    produced.push(...(await produce(kafka, s.topic, orders(20, 40))));
    const full = await waitFor('/readyz 503 naming the volume', async () => {
      const r = await processor!.readiness();
      return r.status === 503 && r.reasons.volume ? r.reasons.volume : null;
    }, 60000);
    assert.match(full, /^volume of .* full: 0 MiB free, below 1 MiB$/);
    await waitFor('a batch failing with ENOSPC', () => processor!.output.some((line) => /batch failed/.test(line) && /ENOSPC/.test(line)), 60000);
    assert.equal(metricValue(await processor.metrics(), 'processor_volume_free_bytes'), 0);
    assert.equal(metricValue(await loader.metrics(), 'loader_volume_free_bytes'), 0);

    rmSync(join(s.inputDir, 'filler'));
    await waitFor('/readyz 200 again', async () => (await processor!.readiness()).status === 200, 60000);
    await waitForCommittedToEnd(kafka, processorGroup, s.topic);
    // The announced files cover offsets 0-59 once each, in order (the loader moves them to loaded/ as they load).
    const ranges = (await announcedFiles(kafka, s.filesTopic, 1)).map((f) => [f.first_offset, f.last_offset]).sort((a, b) => a[0]! - b[0]!);
    assert.deepEqual(ranges.flatMap(([first, last]) => Array.from({ length: last! - first! + 1 }, (_, k) => first! + k)), produced.map((p) => p.offset));
    await waitForCommittedToEnd(kafka, s.group, s.filesTopic);

    const rows = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
    const loaded = rows.map((r) => String(r.event_id)).sort();
    assert.deepEqual(loaded, produced.map((p) => p.event!.event_id).sort(), 'every event once in orders_changes, none twice');
    assert.equal((await loader.readiness()).status, 200);
  } finally {
    await Promise.all([processor?.kill('SIGTERM'), loader?.kill('SIGTERM')]);
    execFileSync('umount', [s.inputDir], { stdio: 'pipe' });
  }
});
