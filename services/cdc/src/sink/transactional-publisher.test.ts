import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka, Logger } from '@cdc/core';
import { TransactionalPublisher } from './transactional-publisher.js';

/** A client double: every producer it makes records its sends; `commitFailures` commits fail first (ambiguously). */
function fakeKafka(commitFailures: number) {
  const sent: number[] = [];
  let failuresLeft = commitFailures;
  let active = false;
  const kafka = {
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        active = true;
      },
      sendBatch: async ({ topicMessages }: { topicMessages: { messages: unknown[] }[] }) => {
        sent.push(topicMessages.reduce((n, t) => n + t.messages.length, 0));
      },
      commit: async () => {
        active = false;
        if (failuresLeft-- > 0) throw new Error('commit timed out');
      },
      abort: async () => {
        active = false;
      },
      isActive: () => active,
    }),
  } as unknown as Kafka;
  return { kafka, sent };
}

const silent = { warn: () => undefined, info: () => undefined } as unknown as Logger;
const settings = { transactionalId: 't', transactionTimeoutMs: 60000, compression: 'none' as const, retryBackoffMs: 1 };
const batch = [{ topic: 'events', message: { key: 'k', value: 'v' } }];

test('after an ambiguous failure the batch is not sent again when the check finds it committed', async () => {
  const { kafka, sent } = fakeKafka(1);
  const publisher = new TransactionalPublisher(kafka, settings, silent);
  await publisher.publish(batch, { committedAlready: async () => true });
  assert.deepEqual(sent, [1], 'sent once');
});

test('after an ambiguous failure the batch is sent again when the check finds it not committed', async () => {
  const { kafka, sent } = fakeKafka(1);
  const publisher = new TransactionalPublisher(kafka, settings, silent);
  await publisher.publish(batch, { committedAlready: async () => false });
  assert.deepEqual(sent, [1, 1]);
});

test('a check that fails is asked again, never taken for "not committed"', async () => {
  const { kafka, sent } = fakeKafka(1);
  const publisher = new TransactionalPublisher(kafka, settings, silent);
  let checks = 0;
  await publisher.publish(batch, {
    committedAlready: async () => {
      checks++;
      if (checks < 3) throw new Error('checkpoint topic not readable');
      return true;
    },
  });
  assert.equal(checks, 3);
  assert.deepEqual(sent, [1], 'never re-sent while unknown');
});
