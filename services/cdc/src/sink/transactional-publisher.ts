import { CompressionTypes, type Kafka, type Message, type Producer } from 'kafkajs';
import { createTransactionalProducer, type Logger } from '@cdc/core';

export interface OutgoingMessage {
  topic: string;
  message: Message;
}

export interface PublisherSettings {
  transactionalId: string;
  transactionTimeoutMs: number;
  compression: 'none' | 'gzip';
  /** how long to wait between attempts when a transaction fails (doubles up to 30 s) */
  retryBackoffMs?: number;
}

/**
 * Publishes each batch of events together with its checkpoint in one Kafka transaction (as Kafka Connect's
 * exactly-once source support does): a crash commits both or neither. A failed transaction is aborted and
 * retried with the same messages; a new producer with the same transactional id fences any zombie.
 */
export class TransactionalPublisher {
  private producer: Producer | null = null;
  private closed = false;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: PublisherSettings,
    private readonly logger: Logger,
  ) {}

  private async connect(): Promise<Producer> {
    if (this.producer) return this.producer;
    const producer = createTransactionalProducer(this.kafka, this.settings);
    await producer.connect();
    this.producer = producer;
    return producer;
  }

  /**
   * Returns the offsets assigned to the last message of each topic, once committed (empty when a retry found the
   * batch already committed). A failure can be ambiguous: the broker may have committed the transaction and died
   * before answering. Before re-sending, `committedAlready` (when given) checks that, so a batch is never
   * committed twice.
   */
  async publish(
    messages: OutgoingMessage[],
    options: { shouldStop?: () => boolean; committedAlready?: () => Promise<boolean> } = {},
  ): Promise<Map<string, string>> {
    const shouldStop = options.shouldStop ?? (() => false);
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of messages) {
      const list = byTopic.get(topic) ?? [];
      list.push(message);
      byTopic.set(topic, list);
    }
    let backoff = this.settings.retryBackoffMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      if (this.closed) throw new Error('publisher closed');
      try {
        return await this.publishOnce(byTopic);
      } catch (error) {
        // A hard stop must not spin forever on a dead broker; the batch stays uncommitted and is re-read on restart.
        if (shouldStop()) throw error;
        this.logger.warn({ err: error, attempt, backoffMs: backoff }, 'transaction failed, retrying with a new producer');
        await this.reset();
        await new Promise((resolve) => setTimeout(resolve, backoff * (0.5 + Math.random())));
        backoff = Math.min(backoff * 2, 30000);
        if (options.committedAlready && (await options.committedAlready().catch(() => false))) {
          this.logger.warn({ attempt }, 'the failed transaction had been committed; not sending it again');
          return new Map();
        }
      }
    }
  }

  private async publishOnce(byTopic: Map<string, Message[]>): Promise<Map<string, string>> {
    const producer = await this.connect();
    const transaction = await producer.transaction();
    try {
      const metadata = await transaction.sendBatch({
        topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        acks: -1,
        compression: this.settings.compression === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None,
      });
      await transaction.commit();
      const offsets = new Map<string, string>();
      for (const record of metadata) {
        if (record.baseOffset !== undefined) offsets.set(`${record.topicName}:${record.partition}`, record.baseOffset);
      }
      return offsets;
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      throw error;
    }
  }

  private async reset(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.reset();
  }
}
