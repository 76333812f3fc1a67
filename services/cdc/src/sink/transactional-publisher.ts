import { isMessageTooLarge, ServiceError, TransactionalWriter, type Kafka, type Logger, type OutgoingMessage, type TransactionalWriterSettings } from '@cdc/core';

export interface PublisherSettings extends TransactionalWriterSettings {
  compression: 'none' | 'gzip';
  /** how long to wait between attempts when a transaction fails (doubles up to 30 s) */
  retryBackoffMs?: number;
}

/** What a stream needs to publish: one batch of messages in one transaction (a fake in unit tests). */
export interface Publisher {
  publish(messages: OutgoingMessage[], options?: PublishOptions): Promise<void>;
}

export interface PublishOptions {
  /** the service's stop: give up instead of retrying (the batch stays uncommitted and is read again on restart) */
  signal?: AbortSignal;
  /** after a failure, whether the broker committed the transaction anyway (checked before sending it again) */
  committedAlready?: () => Promise<boolean>;
}

/**
 * Publishes each batch of events together with its checkpoint in one Kafka transaction (as Kafka Connect's
 * exactly-once source support does): a crash commits both or neither. A failed transaction is aborted and
 * retried, until committed or closed, with a new producer of the same transactional id, which fences any zombie.
 */
export class TransactionalPublisher implements Publisher {
  private readonly writer: TransactionalWriter;

  constructor(
    kafka: Kafka,
    private readonly settings: PublisherSettings,
    private readonly logger: Logger,
  ) {
    this.writer = new TransactionalWriter(kafka, settings, logger);
  }

  /**
   * Resolves once committed (or once a retry found the batch already committed). A failure can be ambiguous: the
   * broker may have committed the transaction and died before answering. Before re-sending, `committedAlready`
   * (when given) checks that, so a batch is never committed twice.
   */
  async publish(messages: OutgoingMessage[], options: PublishOptions = {}): Promise<void> {
    await this.writer.writeUntilCommitted(
      { messages },
      {
        landed: options.committedAlready,
        signal: options.signal,
        baseDelayMs: this.settings.retryBackoffMs,
        explain: (error) => explainTooLarge(error, messages, this.settings.maxMessageBytes),
        logger: this.logger,
      },
    );
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}

/**
 * A record refused for its size is retried like any failure (raising the topic's max.message.bytes lets the
 * same process go on), but the error names the settings to look at instead of librdkafka's bare code.
 */
function explainTooLarge(error: unknown, messages: readonly OutgoingMessage[], maxMessageBytes: number | undefined): unknown {
  if (!isMessageTooLarge(error)) return error;
  const largest = Math.max(0, ...messages.map(({ message }) => (message.value == null ? 0 : Buffer.byteLength(message.value))));
  return new ServiceError(
    `Kafka refused a record of ${largest} bytes as too large (${(error as Error).message}): the topic's max.message.bytes ` +
      `(or the broker's message.max.bytes) is below what CDC_MAX_MESSAGE_BYTES lets through; raise the topic's ` +
      `max.message.bytes to KAFKA_MAX_MESSAGE_BYTES=${maxMessageBytes ?? 'unset'} (kafka-configs --alter), or lower CDC_MAX_MESSAGE_BYTES`,
    { reason: 'record_too_large', retriable: true, cause: error },
  );
}
