import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, type Kafka } from '@cdc/core';
import { TransactionalPublisher } from './transactional-publisher.js';

/** A client double: every producer it makes records how many records each transaction sent; the first commits fail as `commitFailure` says, then `stop` is aborted. */
function fakeKafka(commitFailures: Error[], stop?: AbortController) {
  const sent: number[] = [];
  let active = false;
  const kafka = {
    producer: () => ({
      connect: async () => undefined,
      disconnect: async () => undefined,
      transaction: async () => {
        active = true;
        sent.push(0);
      },
      // librdkafka's producer under the client's layer: each record counted in its transaction and delivered at once
      _getInternalClient: () => ({
        produce: (...args: unknown[]) => {
          sent[sent.length - 1]!++;
          (args[5] as { resolve(): void }).resolve();
          return true;
        },
      }),
      commit: async () => {
        active = false;
        const failure = commitFailures.shift();
        if (commitFailures.length === 0) stop?.abort();
        if (failure) throw failure;
      },
      abort: async () => {
        active = false;
      },
      isActive: () => active,
    }),
  } as unknown as Kafka;
  return { kafka, sent };
}

const logger = createLogger({ service: 'test', level: 'silent' });
const settings = { transactionalId: 't', transactionTimeoutMs: 60000, compression: 'none' as const, retryBackoffMs: 1, maxMessageBytes: 5000 };
const batch = [{ topic: 'events', message: { key: 'k', value: 'v' } }];

test('after an ambiguous failure the batch is not sent again when the check finds it committed', async () => {
  const { kafka, sent } = fakeKafka([new Error('commit timed out')]);
  const publisher = new TransactionalPublisher(kafka, settings, logger);
  await publisher.publish(batch, { committedAlready: async () => true });
  assert.deepEqual(sent, [1], 'sent once');
});

test('a record refused as too large: the error names the settings to change, and the batch is retried until stopped', async () => {
  const stop = new AbortController();
  const { kafka, sent } = fakeKafka([Object.assign(new Error('Broker: Message size too large'), { code: 10 }), new Error('MSG_SIZE_TOO_LARGE')], stop);
  const publisher = new TransactionalPublisher(kafka, settings, logger);
  const error = await publisher.publish(batch, { signal: stop.signal }).catch((e: unknown) => e);
  assert.match(String(error), /Kafka refused a record of 1 bytes as too large \(MSG_SIZE_TOO_LARGE\).*KAFKA_MAX_MESSAGE_BYTES=5000.*CDC_MAX_MESSAGE_BYTES/);
  assert.deepEqual(sent, [1, 1]);
});

test('a closed publisher gives up instead of retrying', async () => {
  const { kafka, sent } = fakeKafka([]);
  const publisher = new TransactionalPublisher(kafka, settings, logger);
  await publisher.close();
  await assert.rejects(publisher.publish(batch), /closed/);
  assert.deepEqual(sent, []);
});
