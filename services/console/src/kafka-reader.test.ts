import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger } from '@cdc/core';
import { KafkaReader } from './kafka-reader.js';

test('a Kafka reader process that aborts is reported, and the next reading forks a new one', async () => {
  // the fixture's marker (see fixtures/dying-reader.ts)
  const marker = join(tmpdir(), `dying-reader-${process.pid}`);
  rmSync(marker, { force: true });
  const reader = new KafkaReader(createLogger({ service: 'console', level: 'silent' }), fileURLToPath(new URL('./fixtures/dying-reader.js', import.meta.url)));
  try {
    const first = await reader.read(30_000);
    assert.equal(first.lag, null);
    assert.match(first.error ?? '', /^the Kafka reader process ended \(SIGABRT\); it starts again at the next reading$/);
    assert.deepEqual(await reader.read(30_000), { lag: [{ group: 'g', topic: 't', records: 2, partitions: 1 }], error: null });
  } finally {
    reader.stop();
    rmSync(marker, { force: true });
  }
});
