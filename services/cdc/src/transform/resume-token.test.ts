import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterTimeOfToken } from './resume-token.js';

test('the cluster time of a MongoDB resume token (KeyString), of a stand-in token, and none of another format', () => {
  // an insert's token on MongoDB 8.0: Timestamp(1764151872, 3) then the event's other fields
  assert.deepEqual(clusterTimeOfToken('826926D240000000032B042C0100296E5A1004A1B2C3D4E5F60718293A4B5C6D7E8F9046645F69640064692B1E40000000000000000004'), { t: 1764151872, i: 3 });
  assert.deepEqual(clusterTimeOfToken('6926d24000000003'), { t: 1764151872, i: 3 });
  assert.deepEqual(clusterTimeOfToken('6926d2400000000301'), { t: 1764151872, i: 3 }, 'an invalidate token of the stand-in');
  assert.equal(clusterTimeOfToken('{"$binary":{"base64":"AAA=","subType":"00"}}'), null);
  assert.equal(clusterTimeOfToken('82ZZ'), null);
});
