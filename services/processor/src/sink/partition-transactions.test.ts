import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byTopic } from './partition-transactions.js';

test('messages are grouped per topic, each topic in its original order', () => {
  const m = (topic: string, id: string) => ({ topic, message: { key: id, value: 'v' } });
  const groups = byTopic([m('files', 'f'), m('dlq', 'a'), m('files', 'g'), m('dlq', 'b')]);
  assert.deepEqual(
    groups.map((g) => [g.topic, g.messages.map((x) => x.key)]),
    [
      ['files', ['f', 'g']],
      ['dlq', ['a', 'b']],
    ],
  );
  assert.deepEqual(byTopic([]), []);
});
