import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chunkMessages, isFencedError } from './partition-transactions.js';

test('messages are chunked per topic, in order, below the byte bound', () => {
  const m = (topic: string, size: number, id: string) => ({ topic, message: { key: id, value: Buffer.alloc(size) } });
  const chunks = chunkMessages([m('files', 10, 'f'), m('dlq', 300, 'a'), m('dlq', 300, 'b'), m('dlq', 300, 'c'), m('dlq', 5000, 'd'), m('dlq', 10, 'e')], 1000);
  assert.deepEqual(
    chunks.map((c) => [c.topic, c.messages.map((x) => x.key)]),
    [
      ['files', ['f']],
      ['dlq', ['a', 'b']],
      ['dlq', ['c']],
      ['dlq', ['d']],
      ['dlq', ['e']],
    ],
  );
  assert.deepEqual(chunkMessages([]), []);
});

test('fencing is recognised through kafkajs error wrapping', () => {
  assert.equal(isFencedError({ type: 'INVALID_PRODUCER_EPOCH' }), true);
  assert.equal(isFencedError({ name: 'KafkaJSNonRetriableError', cause: { type: 'PRODUCER_FENCED' } }), true);
  assert.equal(isFencedError({ originalError: { type: 'INVALID_PRODUCER_EPOCH' } }), true);
  assert.equal(isFencedError(new Error('connection reset')), false);
  assert.equal(isFencedError(undefined), false);
});
