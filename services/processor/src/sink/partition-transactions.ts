import { createTransactionalProducer, FencedError, freshRecords, isFenced, type Consumer, type Kafka, type Logger, type Message, type Producer } from '@cdc/core';

export interface OutgoingMessage {
  topic: string;
  message: Message;
}

export interface PartitionTransactionsSettings {
  /** `<group>-<topic>-<partition>`: one per input partition, so its next owner fences this one */
  transactionalId: string;
  transactionTimeoutMs: number;
  topic: string;
  partition: number;
}

/** Consecutive messages grouped per topic, order kept within each topic (librdkafka batches them into requests). */
export function byTopic(messages: readonly OutgoingMessage[]): { topic: string; messages: Message[] }[] {
  const groups = new Map<string, Message[]>();
  for (const { topic, message } of messages) {
    const list = groups.get(topic) ?? [];
    list.push(message);
    groups.set(topic, list);
  }
  return [...groups].map(([topic, list]) => ({ topic, messages: list }));
}

/** What a partition worker needs from its transactional producer (a fake in unit tests). */
export interface Transactions {
  fence(): Promise<void>;
  commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The transactional producer of one input partition. Two fences guard a commit: the transactional id is the
 * partition's, so `fence()` by the next owner (InitProducerId) aborts or waits out any transaction this one left
 * open, which the recovery then relies on; and the offsets go with the consumer's group metadata (KIP-447), so a
 * commit from before a rebalance is refused by the group coordinator.
 */
export class PartitionTransactions implements Transactions {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly consumer: Consumer,
    private readonly settings: PartitionTransactionsSettings,
    private readonly logger: Logger,
  ) {}

  /** (Re)creates the producer and claims the transactional id; connect() returns once InitProducerId has ended the previous owner's transaction. */
  async fence(): Promise<void> {
    await this.close();
    const producer = createTransactionalProducer(this.kafka, this.settings);
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    this.logger.debug({ transactionalId: this.settings.transactionalId }, 'transactional id claimed');
  }

  /** One transaction: the messages plus the group's offset for this partition; all or nothing. */
  async commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void> {
    if (!this.producer) await this.fence();
    const producer = this.producer!;
    await producer.transaction();
    try {
      const topicMessages = byTopic(messages).map((t) => ({ topic: t.topic, messages: freshRecords(t.messages) }));
      if (topicMessages.length > 0) await producer.sendBatch({ topicMessages });
      await producer.sendOffsets({
        consumer: this.consumer,
        topics: [{ topic: this.settings.topic, partitions: [{ partition: this.settings.partition, offset: String(nextOffset) }] }],
      });
      await producer.commit();
    } catch (error) {
      if (producer.isActive()) await producer.abort().catch(() => undefined);
      // The producer is not reused after a failure: the next attempt claims the id anew (see the worker's commit).
      await this.close();
      if (isFenced(error)) throw new FencedError(error);
      throw error;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.disconnect().catch(() => undefined);
  }
}
