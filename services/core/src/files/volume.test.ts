import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { freeBytes, watchVolume } from './volume.js';

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

test('the free space is a gauge; below the minimum the volume is named full, an unreadable one too', async () => {
  const dir = tmpdir();
  const free = await freeBytes(dir);
  assert.ok(free > 0);
  const registry = new Registry();
  const roomy = watchVolume(dir, { registry, metricName: 'test_volume_free_bytes', minFreeBytes: 1 });
  const full = watchVolume(dir, { registry: new Registry(), metricName: 'test_volume_free_bytes', minFreeBytes: free * 4 });
  const missing = watchVolume(join(dir, 'no-such-dir-for-this-test'), { registry: new Registry(), metricName: 'test_volume_free_bytes', minFreeBytes: 1 });
  try {
    await settle();
    assert.equal(roomy.check(), null);
    assert.match(full.check() ?? '', /^volume of .* full: \d+ MiB free, below \d+ MiB$/);
    assert.match(missing.check() ?? '', /unreadable: ENOENT/);
    const [gauge] = (await registry.getMetricsAsJSON()).filter((m) => m.name === 'test_volume_free_bytes');
    assert.ok((gauge?.values[0]?.value ?? 0) > 0);
  } finally {
    for (const watch of [roomy, full, missing]) watch.stop();
  }
});
