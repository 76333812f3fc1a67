import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter } from 'prom-client';
import { createLogger } from '../logging/logger.js';
import { startOpsServer } from './ops-server.js';
import { Readiness } from './readiness.js';
import { settingsSchema } from '../config/settings.js';
import { perServiceSettings } from '../service/common-settings.js';

test('healthz, readyz and metrics answer over HTTP', async () => {
  const readiness = new Readiness();
  const ops = await startOpsServer({ service: 'test', port: 0, host: '127.0.0.1', logger: createLogger({ service: 'test', level: 'silent' }), readiness });
  try {
    const counter = new Counter({ name: 'cdc_test_events_total', help: 'test', registers: [ops.registry] });
    counter.inc(3);
    const base = `http://127.0.0.1:${ops.port}`;
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    const starting = await fetch(`${base}/readyz`);
    assert.equal(starting.status, 503);
    assert.deepEqual(await starting.json(), { ready: false, reasons: { starting: 'starting' } });
    readiness.setStarted(true);
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

test('a failing readiness check turns /readyz to 503 with its reason and a metric, and back when it clears', async () => {
  const stopping = new AbortController();
  let volume: string | null = null;
  const readiness = new Readiness(stopping.signal);
  readiness.setStarted(true);
  readiness.add('volume', () => volume);
  const ops = await startOpsServer({ service: 'test-svc', port: 0, host: '127.0.0.1', logger: createLogger({ service: 'test', level: 'silent' }), readiness });
  try {
    const base = `http://127.0.0.1:${ops.port}`;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.doesNotMatch(await (await fetch(`${base}/metrics`)).text(), /test_svc_not_ready\{/);
    volume = 'free space 1 MiB below 64 MiB';
    const full = await fetch(`${base}/readyz`);
    assert.equal(full.status, 503);
    assert.deepEqual(await full.json(), { ready: false, reasons: { volume: 'free space 1 MiB below 64 MiB' } });
    assert.match(await (await fetch(`${base}/metrics`)).text(), /test_svc_not_ready\{check="volume",service="test-svc"\} 1/);
    volume = null;
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    stopping.abort();
    assert.deepEqual(await (await fetch(`${base}/readyz`)).json(), { ready: false, reasons: { stopping: 'shutting down' } });
  } finally {
    await ops.close();
  }
});

test('the services\' HTTP_BIND_ADDRESS defaults to the loopback and takes only an IPv4 address; the server listens on it', async () => {
  const schema = settingsSchema(perServiceSettings('cdc', 8081));
  const ops = await startOpsServer({ service: 'test', port: 0, host: schema.parse({}).HTTP_BIND_ADDRESS, logger: createLogger({ service: 'test', level: 'silent' }), readiness: new Readiness() });
  try {
    assert.equal(ops.address, '127.0.0.1');
  } finally {
    await ops.close();
  }
  assert.equal(schema.parse({}).HTTP_BIND_ADDRESS, '127.0.0.1');
  assert.equal(schema.parse({ HTTP_BIND_ADDRESS: '0.0.0.0' }).HTTP_BIND_ADDRESS, '0.0.0.0');
  assert.equal(schema.safeParse({ HTTP_BIND_ADDRESS: 'localhost' }).success, false);
  assert.equal(schema.safeParse({ HTTP_BIND_ADDRESS: '256.1.1.1' }).success, false);
});
