import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientStuckError, createLogger, type Consumer, type Kafka } from '@cdc/core';
import { byTopic, PartitionTransactions } from './partition-transactions.js';

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

/** A PartitionTransactions over a fake client: `sendOffsets` behaves as told, every call is recorded. */
function overFakeProducer(sendOffsets: () => Promise<void>) {
  const calls: string[] = [];
  const producer = {
    connect: async () => void calls.push('connect'),
    transaction: async () => void calls.push('begin'),
    sendBatch: async () => void calls.push('send'),
    sendOffsets: () => (calls.push('sendOffsets'), sendOffsets()),
    commit: async () => void calls.push('commit'),
    isActive: () => true,
    abort: async () => void calls.push('abort'),
    disconnect: async () => void calls.push('disconnect'),
  };
  const kafka = { producer: () => producer } as unknown as Kafka;
  const settings = { transactionalId: 'g-t-0', transactionTimeoutMs: 1000, topic: 't', partition: 0 };
  const transactions = new PartitionTransactions(kafka, {} as Consumer, settings, createLogger({ service: 'test', level: 'silent' }), 50);
  const messages = [{ topic: 'files', message: { key: 'k', value: 'v' } }];
  return { calls, commit: () => transactions.commit(messages, 3) };
}

test('a client call that outlives its deadline fails the commit with ClientStuckError, without abort or disconnect', async () => {
  const fake = overFakeProducer(() => new Promise<void>(() => undefined));
  await assert.rejects(fake.commit(), (error: unknown) => error instanceof ClientStuckError && /send_offsets_to_transaction/.test(error.message));
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'sendOffsets'], 'nothing queued behind the stuck call');
});

test('an ordinary failure aborts the transaction and drops the producer', async () => {
  const fake = overFakeProducer(async () => {
    throw new Error('coordinator not available');
  });
  await assert.rejects(fake.commit(), /coordinator not available/);
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'sendOffsets', 'abort', 'disconnect']);
});
