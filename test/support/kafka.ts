import type { KafkaJS } from '@confluentinc/kafka-javascript';
import { randomUUID } from 'node:crypto';
import { createKafka, createLogger, kafkaSecurityOf, kafkaSecuritySchema, parseConfig, type KafkaSecurity } from '@cdc/core';
import { infra } from './infra.js';
import { waitFor } from './wait.js';

export type Kafka = KafkaJS.Kafka;

/** The tests' own clients connect as the services do, from the same KAFKA_SECURITY_PROTOCOL, ... variables. */
const securityFromEnv = () => kafkaSecurityOf(parseConfig(kafkaSecuritySchema(), { dotenvPath: false }));

/** A quiet client (the services' own factory: Confluent's, librdkafka underneath) for the broker of `infra`. */
export function testKafka(options: { clientId?: string; brokers?: string; security?: KafkaSecurity } = {}): Kafka {
  return createKafka({
    clientId: options.clientId ?? 'tests',
    brokers: [options.brokers ?? infra.kafkaBrokers],
    logger: createLogger({ service: 'tests', level: 'silent' }),
    security: options.security ?? securityFromEnv(),
  });
}

/** A plain producer that answers each send at once (no linger), acks from all in-sync replicas. */
export function testProducer(kafka: Kafka): KafkaJS.Producer {
  return kafka.producer({ kafkaJS: { acks: -1 }, 'linger.ms': 0 });
}

export type ReadMessage = KafkaJS.KafkaMessage & {
  topic: string;
  partition: number;
};

/**
 * Every committed message of a topic (read_committed), read from the beginning until `minCount` messages were
 * received and no more arrive for `quietMs` after the group assigned the partitions.
 */
export async function readTopic(kafka: Kafka, topic: string, options: { minCount?: number; timeoutMs?: number; quietMs?: number } = {}): Promise<ReadMessage[]> {
  const { minCount = 0, timeoutMs = 60000, quietMs = 1500 } = options;
  const messages: ReadMessage[] = [];
  let assigned = false;
  let lastArrival = Date.now();
  const consumer = kafka.consumer({
    kafkaJS: { groupId: `test-reader-${randomUUID()}`, fromBeginning: true, autoCommit: false, readUncommitted: false },
    'isolation.level': 'read_committed',
    rebalance_cb: () => {
      assigned = true;
      lastArrival = Date.now();
    },
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic] });
    await consumer.run({
      eachMessage: async ({ topic: t, partition, message }) => {
        messages.push({ ...message, topic: t, partition });
        lastArrival = Date.now();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (assigned && messages.length >= minCount && Date.now() - lastArrival >= quietMs) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (messages.length < minCount) throw new Error(`read ${messages.length} of at least ${minCount} messages from ${topic} within ${timeoutMs} ms`);
    return messages;
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Waits until the group has committed, in every partition, past the last committed record. (Not the high
 * watermark: a transactional topic ends with a commit marker, which a consumer is never handed.)
 */
export async function waitForCommittedToEnd(kafka: Kafka, groupId: string, topic: string, timeoutMs = 60000): Promise<void> {
  const ends = new Map<number, number>();
  // At least one record: every caller waits on a topic it has just published to, and an empty read (a slow fetch
  // on a busy machine) would otherwise make the wait pass at once.
  for (const m of await readTopic(kafka, topic, { minCount: 1, timeoutMs })) ends.set(m.partition, Math.max(ends.get(m.partition) ?? 0, Number(m.offset) + 1));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await waitFor(
      `group ${groupId} to commit ${topic} to its end`,
      async () => {
        const [committed] = await admin.fetchOffsets({ groupId, topics: [topic], requireStableOffsets: true });
        return [...ends].every(([partition, end]) => Number(committed?.partitions.find((p) => p.partition === partition)?.offset ?? -1) >= end);
      },
      timeoutMs,
      250,
    );
  } finally {
    await admin.disconnect();
  }
}

/**
 * Stops a consuming service's process (SIGSTOP) so that nothing produced from now on can reach it: a fetch in flight
 * when it stopped is answered within librdkafka's fetch.wait.max.ms (500 ms, the services' setting), and that answer
 * lands in the stopped process's socket; after four times that, what is produced waits for the process to go on
 * (SIGCONT). Without the wait, a record produced at once could still ride on the answer in flight.
 */
export async function stallConsumer(service: { child: { kill(signal: NodeJS.Signals): boolean } }): Promise<void> {
  service.child.kill('SIGSTOP');
  await new Promise((resolve) => setTimeout(resolve, 4 * 500));
}
