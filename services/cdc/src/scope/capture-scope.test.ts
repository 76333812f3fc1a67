import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureScope } from './capture-scope.js';
import { scopeConfig } from './fixtures/scope-config.js';

const config = (extra: Parameters<typeof scopeConfig>[0] = {}) => scopeConfig({ CDC_CAPTURE_SCOPE: 'deployment', ...extra });

test('a scope never captures system databases or system collections; patterns match whole names', () => {
  const scope = new CaptureScope(config({ CDC_DATABASE_EXCLUDE: 'tmp_.*', CDC_COLLECTION_INCLUDE: 'shop\\..*|crm\\.leads', CDC_COLLECTION_EXCLUDE: 'shop\\.audit.*' }));
  assert.equal(scope.streamId, 'deployment');
  for (const db of ['admin', 'local', 'config']) assert.equal(scope.captures(db, 'x'), false, db);
  assert.equal(scope.captures('shop', 'system.views'), false);
  assert.equal(scope.captures('shop', 'orders'), true);
  assert.equal(scope.captures('shop', 'audit_log'), false, 'excluded');
  assert.equal(scope.captures('crm', 'leads'), true);
  assert.equal(scope.captures('crm', 'leads2'), false, 'the whole name must match');
  assert.equal(scope.captures('tmp_x', 'orders'), false, 'database excluded');
});

test('a database scope: its database only, one stream whose filter names it', () => {
  const scope = new CaptureScope(config({ CDC_CAPTURE_SCOPE: 'database' }));
  assert.equal(scope.streamId, 'database:shop');
  assert.equal(scope.captures('shop', 'orders'), true);
  assert.equal(scope.captures('crm', 'orders'), false);
  assert.deepEqual(scope.matchStage(), { $match: { $or: [{ operationType: 'invalidate' }, { 'ns.db': 'shop' }, { 'to.db': 'shop' }] } });
});

test('instances split a scope by collection: each collection to exactly one, the same on every instance', () => {
  const namespaces = Array.from({ length: 200 }, (_, i) => ['shop', `c${i}`] as const);
  const scopes = [0, 1, 2].map((index) => new CaptureScope(config({ CDC_INSTANCE_INDEX: index, CDC_INSTANCE_COUNT: 3 })));
  assert.deepEqual(scopes.map((s) => s.streamId), ['deployment#0of3', 'deployment#1of3', 'deployment#2of3']);
  const owners = namespaces.map(([db, coll]) => scopes.filter((s) => s.captures(db, coll)).length);
  assert.ok(owners.every((n) => n === 1));
  for (const scope of scopes) assert.ok(namespaces.filter(([db, coll]) => scope.captures(db, coll)).length > 40, 'a share each');
});
