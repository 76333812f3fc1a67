import type { Kafka, Message, Producer } from 'kafkajs';
import { createTransactionalProducer, type Logger } from '@cdc/core';

export interface OutgoingMessage {
  topic: string;
  message: Message;
}

export interface PartitionTransactionsSettings {
  /** `<group>-<topic>-<partition>`: one per input partition, so its next owner fences this one */
  transactionalId: string;
  transactionTimeoutMs: number;
  consumerGroupId: string;
  topic: string;
  partition: number;
}

/** The producer epoch was bumped by a newer producer with the same transactional id: this owner is a zombie. */
export class FencedError extends Error {
  constructor(cause: unknown) {
    super(`transactional producer fenced: ${(cause as Error).message}`, { cause });
    this.name = 'FencedError';
  }
}

const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);

export function isFencedError(error: unknown): boolean {
  for (let e = error as { type?: string; cause?: unknown; originalError?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (e.type && FENCED_TYPES.has(e.type)) return true;
    e = (e.cause ?? e.originalError) as typeof e;
  }
  return false;
}

/** Bytes of records per produce request in a transaction: one record batch stays under the broker's message.max.bytes. */
export const MAX_CHUNK_BYTES = 512 * 1024;

const sizeOf = (message: Message) => {
  const length = (v: Message['value'] | Message['key']) => (v == null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);
  return length(message.value) + length(message.key) + 64;
};

/** Consecutive messages of one topic, in order, cut so that each chunk stays below `maxBytes` (a larger message travels alone). */
export function chunkMessages(messages: readonly OutgoingMessage[], maxBytes = MAX_CHUNK_BYTES): { topic: string; messages: Message[] }[] {
  const chunks: { topic: string; messages: Message[]; bytes: number }[] = [];
  for (const { topic, message } of messages) {
    const size = sizeOf(message);
    const last = chunks[chunks.length - 1];
    if (last && last.topic === topic && last.bytes + size <= maxBytes) {
      last.messages.push(message);
      last.bytes += size;
    } else {
      chunks.push({ topic, messages: [message], bytes: size });
    }
  }
  return chunks.map(({ topic, messages: list }) => ({ topic, messages: list }));
}

/** What a partition worker needs from its transactional producer (a fake in unit tests). */
export interface Transactions {
  fence(): Promise<void>;
  commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The transactional producer of one input partition (classic per-partition transactional ids: kafkajs's
 * sendOffsets has no group-generation fencing, KIP-447). `fence()` initialises a new producer id for the
 * transactional id, which aborts any open transaction of a previous owner and fences it for good.
 */
export class PartitionTransactions implements Transactions {
  private producer: Producer | null = null;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: PartitionTransactionsSettings,
    private readonly logger: Logger,
  ) {}

  /** (Re)creates the producer and claims the transactional id: InitProducerId waits for and ends the previous owner's transaction. */
  async fence(): Promise<void> {
    await this.close();
    const producer = createTransactionalProducer(this.kafka, this.settings);
    await producer.connect();
    this.producer = producer;
    try {
      // kafkajs initialises the producer id lazily, on the first transaction; an empty one ends locally.
      const transaction = await producer.transaction();
      await transaction.abort();
    } catch (error) {
      await this.close();
      throw error;
    }
    this.logger.debug({ transactionalId: this.settings.transactionalId }, 'transactional id claimed');
  }

  /** One transaction: the messages plus the group's offset for this partition; all or nothing. */
  async commit(messages: readonly OutgoingMessage[], nextOffset: number): Promise<void> {
    if (!this.producer) await this.fence();
    const producer = this.producer!;
    const transaction = await producer.transaction();
    try {
      for (const chunk of chunkMessages(messages)) await transaction.send({ topic: chunk.topic, messages: chunk.messages, acks: -1 });
      await transaction.sendOffsets({
        consumerGroupId: this.settings.consumerGroupId,
        topics: [{ topic: this.settings.topic, partitions: [{ partition: this.settings.partition, offset: String(nextOffset) }] }],
      });
      await transaction.commit();
    } catch (error) {
      await transaction.abort().catch(() => undefined);
      if (isFencedError(error)) {
        await this.close();
        throw new FencedError(error);
      }
      throw error;
    }
  }

  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    await producer?.disconnect().catch(() => undefined);
  }
}
