import { ClientStuckError, CLIENT_CALL_DEADLINE_MS, createTransactionalProducer, FencedError, freshRecords, isFenced, withDeadline, type Consumer, type Kafka, type Logger, type Message, type Producer } from '@cdc/core';

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
 *
 * Every client call has a deadline: a call that outlives it means the client is wedged (see ClientStuckError), and
 * the error ends the service instead of leaving the partition waiting for ever.
 */
export class PartitionTransactions implements Transactions {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly consumer: Consumer,
    private readonly settings: PartitionTransactionsSettings,
    private readonly logger: Logger,
    private readonly callDeadlineMs = CLIENT_CALL_DEADLINE_MS,
  ) {}

  /** (Re)creates the producer and claims the transactional id; connect() returns once InitProducerId has ended the previous owner's transaction. */
  async fence(): Promise<void> {
    await this.close();
    const producer = createTransactionalProducer(this.kafka, this.settings);
    try {
      await withDeadline('connect (init_transactions)', this.callDeadlineMs, () => producer.connect());
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
    const call = <T>(name: string, run: () => Promise<T>, deadlineMs = this.callDeadlineMs) => withDeadline(name, deadlineMs, run);
    await call('begin_transaction', () => producer.transaction());
    try {
      const topicMessages = byTopic(messages).map((t) => ({ topic: t.topic, messages: freshRecords(t.messages) }));
      // a delivery may take up to the message timeout, which the client sets to the transaction timeout
      if (topicMessages.length > 0) await call('send', () => producer.sendBatch({ topicMessages }), this.settings.transactionTimeoutMs + this.callDeadlineMs);
      await call('send_offsets_to_transaction', () =>
        producer.sendOffsets({
          consumer: this.consumer,
          topics: [{ topic: this.settings.topic, partitions: [{ partition: this.settings.partition, offset: String(nextOffset) }] }],
        }),
      );
      await call('commit_transaction', () => producer.commit());
    } catch (error) {
      // A stuck client would only queue the abort and the disconnect behind the stuck call: the service exits.
      if (error instanceof ClientStuckError) throw error;
      if (producer.isActive()) await call('abort_transaction', () => producer.abort()).catch(() => undefined);
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
