import { createTransactionalProducer, freshRecords, retry, type Kafka, type Logger, type Message, type Producer } from '@cdc/core';

const PENDING_LOG_MS = 15_000;

export interface OutgoingMessage {
  topic: string;
  message: Message;
}

export interface PublisherSettings {
  transactionalId: string;
  transactionTimeoutMs: number;
  compression: 'none' | 'gzip';
  /** the producer's message.max.bytes (KAFKA_MAX_MESSAGE_BYTES) */
  maxMessageBytes?: number;
  /** how long to wait between attempts when a transaction fails (doubles up to 30 s) */
  retryBackoffMs?: number;
  /** test fault injection: called once the records are sent, before the commit */
  onSent?: () => void;
}

/** What a stream needs to publish: one batch of messages in one transaction (a fake in unit tests). */
export interface Publisher {
  publish(messages: OutgoingMessage[], options?: PublishOptions): Promise<void>;
}

export interface PublishOptions {
  /** a hard stop: give up instead of retrying (the batch stays uncommitted and is read again on restart) */
  shouldStop?: () => boolean;
  /** after a failure, whether the broker committed the transaction anyway (checked before sending it again) */
  committedAlready?: () => Promise<boolean>;
}

/**
 * Publishes each batch of events together with its checkpoint in one Kafka transaction (as Kafka Connect's
 * exactly-once source support does): a crash commits both or neither. A failed transaction is aborted and
 * retried with a new producer of the same transactional id, which fences any zombie.
 */
export class TransactionalPublisher implements Publisher {
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
    try {
      await producer.connect();
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    return producer;
  }

  /**
   * Resolves once committed (or once a retry found the batch already committed). A failure can be ambiguous: the
   * broker may have committed the transaction and died before answering. Before re-sending, `committedAlready`
   * (when given) checks that, so a batch is never committed twice.
   */
  async publish(messages: OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    const topicMessages = [...Map.groupBy(messages, (m) => m.topic)].map(([topic, list]) => ({ topic, messages: list.map((m) => m.message) }));
    await retry(
      async (attempt) => {
        if (this.closed) throw new Error('publisher closed');
        // A check that fails fails the attempt: re-sending without knowing could commit the batch twice.
        if (attempt > 1 && options.committedAlready && (await options.committedAlready())) {
          this.logger.warn({ attempt }, 'the failed transaction had been committed; not sending it again');
          return;
        }
        await this.publishOnce(topicMessages);
      },
      {
        isTransient: () => !this.closed,
        maxAttempts: Number.POSITIVE_INFINITY,
        baseDelayMs: this.settings.retryBackoffMs ?? 500,
        maxDelayMs: 30000,
        shouldStop: options.shouldStop,
        onRetry: ({ attempt, delayMs, error }) => this.logger.warn({ err: error, attempt, backoffMs: delayMs }, 'transaction failed, retrying with a new producer'),
      },
    );
  }

  private async publishOnce(topicMessages: { topic: string; messages: Message[] }[]): Promise<void> {
    const producer = await this.connect();
    // librdkafka keeps retrying a transaction's records while the brokers are away (up to the transaction timeout)
    // without surfacing an error: say so, so a quiet cdc is never a mystery.
    const startedAt = Date.now();
    const pending = setInterval(() => this.logger.warn({ pendingMs: Date.now() - startedAt }, 'transaction still pending (brokers unreachable?)'), PENDING_LOG_MS);
    try {
      await producer.transaction();
      await producer.sendBatch({ topicMessages: topicMessages.map((t) => ({ topic: t.topic, messages: freshRecords(t.messages) })) });
      this.settings.onSent?.();
      await producer.commit();
    } catch (error) {
      if (producer.isActive()) await producer.abort().catch(() => undefined);
      await this.reset();
      throw explainTooLarge(error, topicMessages, this.settings.maxMessageBytes);
    } finally {
      clearInterval(pending);
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

/** Kafka's MESSAGE_TOO_LARGE (broker error 10; librdkafka's MSG_SIZE_TOO_LARGE has the same code). */
function isTooLarge(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  return e?.code === 10 || /message size too large|MSG_SIZE_TOO_LARGE/i.test(String(e?.message ?? ''));
}

/**
 * A record refused for its size is retried like any failure (raising the topic's max.message.bytes lets the
 * same process go on), but the error names the settings to look at instead of librdkafka's bare code.
 */
function explainTooLarge(error: unknown, topicMessages: { topic: string; messages: Message[] }[], maxMessageBytes: number | undefined): unknown {
  if (!isTooLarge(error)) return error;
  const largest = Math.max(0, ...topicMessages.flatMap((t) => t.messages.map((m) => (m.value == null ? 0 : Buffer.byteLength(m.value)))));
  return new Error(
    `Kafka refused a record of ${largest} bytes as too large (${(error as Error).message}): the topic's max.message.bytes ` +
      `(or the broker's message.max.bytes) is below what CDC_MAX_MESSAGE_BYTES lets through; raise the topic's ` +
      `max.message.bytes to KAFKA_MAX_MESSAGE_BYTES=${maxMessageBytes ?? 'unset'} (kafka-configs --alter), or lower CDC_MAX_MESSAGE_BYTES`,
    { cause: error },
  );
}
