import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freshRecords, type Message } from './client.js';

test('fresh records: converting a copy in place (as the client does on send) leaves the original sendable again', () => {
  const original: Message = { key: 'k', value: '{"a":1}', headers: { event_id: 'e1', op: 'insert' } };
  const [copy] = freshRecords([original]);
  // what the client does to a record it sends
  copy!.headers = Object.entries(copy!.headers ?? {}).map(([k, v]) => ({ [k]: v })) as unknown as Message['headers'];
  copy!.value = Buffer.from(copy!.value as string);
  assert.deepEqual(original.headers, { event_id: 'e1', op: 'insert' });
  assert.equal(original.value, '{"a":1}');
  assert.notEqual(freshRecords([original])[0]!.headers, original.headers);
});
