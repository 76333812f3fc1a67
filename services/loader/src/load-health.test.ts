import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { LoadHealth } from './load-health.js';
import { createLoaderMetrics } from './metrics.js';

const apiError = (code: number, reason: string, message = reason) => Object.assign(new Error(message), { code, errors: [{ reason, message }] });

function setUp() {
  const registry = new Registry();
  const metrics = createLoaderMetrics(registry);
  let now = 1_000_000;
  const health = new LoadHealth(metrics, 60_000, () => now);
  return { health, registry, advance: (ms: number) => (now += ms) };
}

const sample = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === name);
  const value = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => (v.labels as Record<string, string>)[k] === l));
  return value?.value ?? 0;
};

test('a downstream fault makes the loader unready at once, naming it; a loaded group clears it', async () => {
  const { health, registry, advance } = setUp();
  assert.equal(health.problem(), null);
  health.failed(apiError(403, 'accessDenied', 'Access Denied: Table p:d.t'));
  assert.equal(health.problem(), 'files held, not loaded (downstream fault for 0 s, retrying): accessDenied: Access Denied: Table p:d.t');
  advance(5000);
  health.failed({ reason: 'billingNotEnabled', message: 'Billing has not been enabled' });
  assert.match(health.problem()!, /for 5 s, retrying\): billingNotEnabled: /, 'failing since the first failure, the latest reason');
  assert.equal(await sample(registry, 'loader_load_failing_seconds'), 5);
  assert.equal(await sample(registry, 'loader_load_failures_total', { fault: 'downstream', reason: 'accessDenied' }), 1);
  assert.equal(await sample(registry, 'loader_load_failures_total', { fault: 'downstream', reason: 'billingNotEnabled' }), 1);
  health.loaded();
  assert.equal(health.problem(), null);
  assert.equal(await sample(registry, 'loader_load_failing_seconds'), 0);
});

test('a transient fault makes the loader unready only once it has lasted the threshold', async () => {
  const { health, registry, advance } = setUp();
  health.failed(apiError(403, 'quotaExceeded'));
  advance(59_999);
  health.failed(apiError(503, 'backendError'));
  assert.equal(health.problem(), null, 'below the threshold');
  advance(1);
  assert.equal(health.problem(), 'files not loaded for 60 s (retrying): backendError: backendError');
  assert.equal(await sample(registry, 'loader_load_failures_total', { fault: 'transient', reason: 'quotaExceeded' }), 1);
  assert.equal(await sample(registry, 'loader_load_failures_total', { fault: 'transient', reason: 'backendError' }), 1);
});

test('a step waiting on BigQuery longer than the threshold makes the loader unready, naming the step; its end clears it', () => {
  const { health, advance } = setUp();
  const loadOver = health.started('load');
  advance(30_000);
  const insertOver = health.started('insert');
  assert.equal(health.problem(), null, 'not yet waiting for the threshold');
  advance(30_000);
  assert.equal(health.problem(), 'step load waiting on BigQuery or Cloud Storage for 60 s');
  loadOver();
  assert.equal(health.problem(), null, 'the insert has waited 30 s only');
  advance(40_000);
  assert.match(health.problem() ?? '', /^step insert waiting .* for 70 s$/);
  insertOver();
  assert.equal(health.problem(), null);
});
