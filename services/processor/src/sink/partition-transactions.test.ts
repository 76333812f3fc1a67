import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type Consumer, type Kafka } from '@cdc/core';
import { PartitionTransactions } from './partition-transactions.js';

test("a partition's transaction carries the group's offset past the batch, with the group consumer", async () => {
  const offsets: unknown[] = [];
  const producer = {
    connect: async () => undefined,
    transaction: async () => undefined,
    // librdkafka's producer under the client's layer: every record delivered at once
    _getInternalClient: () => ({ produce: (...args: unknown[]) => void (args[5] as { resolve(): void }).resolve() }),
    sendOffsets: async (request: unknown) => void offsets.push(request),
    commit: async () => undefined,
    isActive: () => false,
    disconnect: async () => undefined,
  };
  const consumer = {} as Consumer;
  const transactions = new PartitionTransactions({ producer: () => producer } as unknown as Kafka, consumer, { transactionalId: 'g-t-2', transactionTimeoutMs: 1000, topic: 't', partition: 2 }, createLogger({ service: 'test', level: 'silent' }));
  await transactions.commit([{ topic: 'files', message: { key: 'k', value: 'v' } }], 8);
  assert.deepEqual(offsets, [{ consumer, topics: [{ topic: 't', partitions: [{ partition: 2, offset: '8' }] }] }]);
});
