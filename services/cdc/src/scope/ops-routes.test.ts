import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { scopeOpsHandler, type ScopeOps } from './ops-routes.js';

async function serve(ops: ScopeOps): Promise<{ url: string; server: Server; errors: unknown[] }> {
  const errors: unknown[] = [];
  const handler = scopeOpsHandler(ops, (error) => errors.push(error));
  const server = createServer((req, res) => handler(req, res, (req.url ?? '/').split('?')[0]!));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, errors };
}

test('POST /collections/<ns>/resnapshot: accepted for a streaming collection; refused for other methods, cross-origin, unknown or busy collections', async () => {
  const asked: string[] = [];
  const filters: (string | undefined)[] = [];
  const { url, server, errors } = await serve({
    status: () => ({ scope: 'database', collections: [] }),
    resnapshot: async (ns, filter) => (asked.push(ns), filters.push(filter), ns === 'shop.orders' ? 'started' : ns === 'shop.busy' ? 'snapshotting' : ns === 'shop.boom' ? Promise.reject(new Error('broker gone')) : 'unknown'),
  });
  try {
    const post = (path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { method: 'POST', headers });
    const started = await post('/collections/shop.orders/resnapshot');
    assert.equal(started.status, 202);
    assert.equal(((await started.json()) as { outcome: string }).outcome, 'started');
    assert.equal((await fetch(`${url}/collections/shop.orders/resnapshot`)).status, 405, 'GET refused');
    assert.equal((await post('/collections/shop.orders/resnapshot', { origin: 'https://evil.example' })).status, 403, 'a browser page of another site refused');
    assert.equal((await post('/collections/shop.busy/resnapshot')).status, 409);
    assert.equal((await post('/collections/shop.nope/resnapshot')).status, 404);
    assert.equal((await post('/collections/shop%2Fodd.x/resnapshot')).status, 404, 'an encoded name is decoded and looked up');
    assert.equal((await post('/collections/shop.boom/resnapshot')).status, 503, 'a commit that failed: no acceptance');
    assert.equal(errors.length, 1, 'and the service is failed');
    assert.deepEqual(asked, ['shop.orders', 'shop.busy', 'shop.nope', 'shop/odd.x', 'shop.boom'], 'refused requests never reach the scope');
    const filtered = await fetch(`${url}/collections/shop.orders/resnapshot`, { method: 'POST', body: '{"filter": {"status": "open"}}' });
    assert.equal(filtered.status, 202);
    assert.equal(((await filtered.json()) as { filter: string }).filter, '{"status":"open"}');
    assert.deepEqual(filters.at(-1), '{"status":"open"}', 'the filter handed over as canonical Extended JSON');
    const bad = await fetch(`${url}/collections/shop.orders/resnapshot`, { method: 'POST', body: '{"filter": {"$where": "1"}}' });
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /\$where/, 'the reason given');
    assert.equal((await fetch(`${url}/collections/shop.orders/resnapshot`, { method: 'POST', body: 'x'.repeat(70_000) })).status, 413, 'a body over the limit');
    assert.equal(asked.length, 6, 'a refused filter never reaches the scope');
    assert.equal((await fetch(`${url}/collections`)).status, 200);
    assert.equal((await fetch(`${url}/collections`, { method: 'POST' })).status, 405);
  } finally {
    server.close();
  }
});
