import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseResnapshotBody } from './resnapshot-filter.js';
import { RecentRate } from './recent-rate.js';

test('a re-snapshot body: empty or a filter of query operators, kept as canonical Extended JSON', () => {
  assert.deepEqual(parseResnapshotBody(''), { ok: true }, 'no body: the whole collection');
  assert.deepEqual(parseResnapshotBody('{}'), { ok: true });
  assert.deepEqual(parseResnapshotBody('{"filter": {}}'), { ok: true }, 'an empty filter: the whole collection');
  assert.deepEqual(parseResnapshotBody('{"filter": {"status": "open"}}'), { ok: true, filter: '{"status":"open"}' });
  assert.deepEqual(
    parseResnapshotBody('{"filter": {"$or": [{"qty": {"$gte": 5}}, {"tags": {"$in": ["a", "b"]}}], "at": {"$gt": {"$date": "2026-01-01T00:00:00Z"}}}}'),
    { ok: true, filter: '{"$or":[{"qty":{"$gte":{"$numberInt":"5"}}},{"tags":{"$in":["a","b"]}}],"at":{"$gt":{"$date":{"$numberLong":"1767225600000"}}}}' },
    'operators nested in arrays, typed values in Extended JSON',
  );
});

test('a re-snapshot body refused with its reason: not JSON, not an object, unknown fields, operators other than matching ones, bad Extended JSON', () => {
  const refused = (body: string) => {
    const parsed = parseResnapshotBody(body);
    assert.equal(parsed.ok, false, body);
    return (parsed as { reason: string }).reason;
  };
  assert.match(refused('{"filter": {'), /not JSON/);
  assert.match(refused('[1]'), /JSON object/);
  assert.match(refused('{"filter": ["status"]}'), /query filter: a JSON object/);
  assert.match(refused('{"filter": {"a": 1}, "limit": 5}'), /unknown field\(s\) limit/);
  assert.match(refused('{"filter": {"$where": "sleep(1000)"}}'), /uses \$where/);
  assert.match(refused('{"filter": {"$expr": {"$function": {}}}}'), /uses \$expr/);
  assert.match(refused('{"filter": {"$and": [{"a": {"$accumulator": 1}}]}}'), /uses \$accumulator/, 'found inside arrays');
  assert.match(refused('{"filter": {"_id": {"$oid": "not-hex"}}}'), /not valid Extended JSON/);
});

test('events per second: over the last minute, over less while the first minute runs, falling to 0 when quiet', () => {
  let now = 1_000_000;
  const rate = new RecentRate(() => now);
  now += 10_000;
  rate.add(50);
  assert.equal(rate.perSecond(), 5, '50 events in the first 10 s');
  now += 50_000;
  rate.add(70);
  assert.equal(rate.perSecond(), 2, '120 events in the last minute');
  now += 30_000;
  assert.equal(rate.perSecond(), 1.17, 'the first 50 out of the window');
  now += 60_000;
  assert.equal(rate.perSecond(), 0);
});
