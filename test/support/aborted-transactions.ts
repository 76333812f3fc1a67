// The broker state that made kafkajs 2.2.4 deliver aborted records: transactions of several producers left open in
// one partition, then aborted (fenced by a successor with the same transactional id) in an order other than their
// first offsets. kafkajs's filterAbortedMessages assumed the fetch response's aborted-transaction list sorted by
// first offset; the Java client and librdkafka keep it in a priority queue.
import confluent, { type KafkaJS } from '@confluentinc/kafka-javascript';
import { infra, uniqueName } from './infra.js';

export interface AbortedRecord {
  key: string;
  value: string | Buffer;
}

function transactionalProducer(transactionalId: string): KafkaJS.Producer {
  return new confluent.KafkaJS.Kafka({ kafkaJS: { brokers: [infra.kafkaBrokers], clientId: 'tests-zombie', logLevel: confluent.KafkaJS.logLevel.NOTHING } }).producer({
    kafkaJS: { transactionalId, transactionTimeout: 60000 },
    'linger.ms': 0,
  });
}

/**
 * A connected transactional producer. connect() runs InitProducerId, which the client gives 5 s: on a loaded
 * machine that can pass while the coordinator is still aborting a predecessor, so a failed attempt is dropped and
 * the id claimed again by a new producer.
 */
async function connected(transactionalId: string): Promise<KafkaJS.Producer> {
  for (let attempt = 1; ; attempt++) {
    const producer = transactionalProducer(transactionalId);
    try {
      await producer.connect();
      return producer;
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      if (attempt >= 5) throw error;
    }
  }
}

/**
 * Producer k (k = 0, 1, ...) opens a transaction and writes its records to `partition`, round-robin with the
 * others (so producer 0's first offset is the lowest); all stay open. Then successors with the same transactional
 * ids fence them one by one in `fenceOrder` (e.g. [2, 0, 1]), so the broker aborts them out of first-offset order.
 * Returns the offsets the aborted records took.
 */
export async function abortOutOfOrder(topic: string, partition: number, recordsPerProducer: AbortedRecord[][], fenceOrder: number[]): Promise<number[]> {
  const ids = recordsPerProducer.map((_, k) => uniqueName(`zombie-${k}`));
  const zombies: KafkaJS.Producer[] = [];
  const offsets: number[] = [];
  try {
    for (const id of ids) {
      const zombie = await connected(id);
      zombies.push(zombie);
      await zombie.transaction();
    }
    const rounds = Math.max(...recordsPerProducer.map((r) => r.length));
    for (let round = 0; round < rounds; round++) {
      for (const [k, zombie] of zombies.entries()) {
        const record = recordsPerProducer[k]![round];
        if (!record) continue;
        const [meta] = await zombie.send({ topic, messages: [{ ...record, partition }] });
        offsets.push(Number(meta!.baseOffset));
      }
    }
    // Each successor's InitProducerId returns once the coordinator has written the abort markers of its predecessor.
    for (const k of fenceOrder) {
      const successor = await connected(ids[k]!);
      await successor.disconnect();
    }
  } finally {
    await Promise.allSettled(zombies.map((zombie) => zombie.disconnect()));
  }
  return offsets;
}
