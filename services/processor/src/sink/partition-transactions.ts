import { TransactionalWriter, type Consumer, type Kafka, type Logger, type OutgoingMessage } from '@cdc/core';

export interface PartitionTransactionsSettings {
  /** `<group>-<topic>-<partition>`: one per input partition, so its next owner fences this one */
  transactionalId: string;
  transactionTimeoutMs: number;
  topic: string;
  partition: number;
}

/** What a partition worker needs from its transactional producer (a fake in unit tests). */
export interface Transactions {
  fence(): Promise<void>;
  commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The transactional writer of one input partition. Two fences guard a commit: the transactional id is the
 * partition's, so `fence()` by the next owner (InitProducerId) aborts or waits out any transaction this one left
 * open, which the recovery then relies on; and the offsets go with the consumer's group metadata (KIP-447), so a
 * commit from before a rebalance is refused by the group coordinator.
 */
export class PartitionTransactions implements Transactions {
  private readonly writer: TransactionalWriter;

  constructor(
    kafka: Kafka,
    private readonly consumer: Consumer,
    private readonly settings: PartitionTransactionsSettings,
    logger: Logger,
    callDeadlineMs?: number,
  ) {
    this.writer = new TransactionalWriter(kafka, { ...settings, callDeadlineMs }, logger);
  }

  fence(): Promise<void> {
    return this.writer.claim();
  }

  /** One transaction: the messages plus the group's offset for this partition; all or nothing. */
  commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void> {
    const { consumer, settings } = this;
    return this.writer.write({ messages, offsets: { consumer, topic: settings.topic, partition: settings.partition, offset: nextOffset } });
  }

  /** Drops the producer; the next take-over claims the id anew. */
  close(): Promise<void> {
    return this.writer.reset();
  }
}
