import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { infra } from './infra.js';

export function testKafka(): Kafka {
  return new Kafka({ clientId: 'tests', brokers: [infra.kafkaBrokers], logLevel: logLevel.NOTHING, retry: { retries: 10 } });
}

export type ReadMessage = KafkaMessage & {
  topic: string;
  partition: number;
};

/**
 * Every committed message of a topic (read_committed), read from the beginning until the consumer has reached
 * the end offsets seen when `minCount` messages were received and no more arrive for `quietMs`.
 */
export async function readTopic(kafka: Kafka, topic: string, options: { minCount?: number; timeoutMs?: number; quietMs?: number } = {}): Promise<ReadMessage[]> {
  const { minCount = 0, timeoutMs = 60000, quietMs = 1500 } = options;
  const consumer = kafka.consumer({ groupId: `test-reader-${randomUUID()}`, readUncommitted: false });
  const messages: ReadMessage[] = [];
  let lastArrival = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        messages.push({ ...message, topic: t, partition });
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (messages.length >= minCount && Date.now() - lastArrival >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (messages.length < minCount) throw new Error(`read ${messages.length} of at least ${minCount} messages from ${topic} within ${timeoutMs} ms`);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}
