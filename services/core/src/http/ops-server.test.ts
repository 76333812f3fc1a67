import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter } from 'prom-client';
import { createLogger } from '../logging/logger.js';
import { startOpsServer } from './ops-server.js';

test('healthz, readyz and metrics answer over HTTP', async () => {
  let ready = false;
  const ops = await startOpsServer({ service: 'test', port: 0, host: '127.0.0.1', logger: createLogger({ service: 'test', level: 'silent' }), isReady: () => ready });
  try {
    const counter = new Counter({ name: 'cdc_test_events_total', help: 'test', registers: [ops.registry] });
    counter.inc(3);
    const base = `http://127.0.0.1:${ops.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 503);
    ready = true;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    ops.setReadyDetail(() => ({ oplog: { window_seconds: 42 } }));
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { ready: true, oplog: { window_seconds: 42 } });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /cdc_test_events_total\{service="test"\} 3/);
    assert.match(metrics, /process_resident_memory_bytes/);
  } finally {
    await ops.close();
  }
});
