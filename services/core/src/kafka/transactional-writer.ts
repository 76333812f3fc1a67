import { ClientStuckError, FencedError, ServiceError } from '../errors/errors.js';
import { isFenced } from './errors.js';
import { retry } from '../lifecycle/retry.js';
import type { Logger } from '../logging/logger.js';
import { createTransactionalProducer, type Consumer, type Kafka, type Message, type Producer } from './client.js';
import { CLIENT_CALL_DEADLINE_MS, withDeadline } from './deadline.js';

/** One record and the topic it goes to. */
export interface OutgoingMessage {
  topic: string;
  message: Message;
}

type NativeHeaders = Record<string, string | Buffer>[];

/** librdkafka's producer under the client's KafkaJS-compatible layer (its `_getInternalClient`, not in the types). */
interface NativeProducer {
  produce(topic: string, partition: number, value: Buffer | null, key: Message['key'], timestamp: number, opaque: Delivery, headers: NativeHeaders | null): boolean;
}

/** What the KafkaJS layer's delivery-report handler calls with a record's outcome (the record's `opaque`). */
interface Delivery {
  resolve(): void;
  reject(error: unknown): void;
}

function nativeProducerOf(producer: Producer): NativeProducer {
  const internal = (producer as unknown as { _getInternalClient?: () => NativeProducer | null })._getInternalClient;
  const native = typeof internal === 'function' ? internal.call(producer) : null;
  // the layer changed under us (a client upgrade) or the producer is not connected: fail loudly, never send nothing
  if (!native || typeof native.produce !== 'function') throw new Error('kafka client: the native producer (_getInternalClient().produce) is not available; client version changed?');
  return native;
}

/** Headers in librdkafka's form: one `{ name: value }` per value (as the KafkaJS layer converts them). */
function nativeHeaders(headers: Message['headers']): NativeHeaders | null {
  if (!headers) return null;
  const list: NativeHeaders = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const each of value) list.push({ [name]: each });
    else list.push({ [name]: value });
  }
  return list;
}

/**
 * Hands the records to librdkafka in order and resolves once every one is delivered (acks from all in-sync replicas),
 * or rejects at the first failure. The KafkaJS layer's sendBatch makes a promise, a converted copy and a metadata
 * entry of each record; here all records share one delivery target that counts them down. Records still in flight
 * after a failure are ended by the transaction's abort.
 */
function sendAll(producer: Producer, messages: readonly OutgoingMessage[]): Promise<unknown> {
  const native = nativeProducerOf(producer);
  return new Promise<void>((resolve, reject) => {
    let pending = messages.length;
    let settled = false;
    const delivery: Delivery = {
      resolve: () => {
        if (--pending === 0 && !settled) {
          settled = true;
          resolve();
        }
      },
      reject: (error) => {
        if (settled) return;
        settled = true;
        reject(error);
      },
    };
    for (const { topic, message } of messages) {
      const value = typeof message.value === 'string' ? Buffer.from(message.value) : (message.value ?? null);
      try {
        native.produce(topic, message.partition ?? -1, value, message.key, message.timestamp ? Number(message.timestamp) : 0, delivery, nativeHeaders(message.headers));
      } catch (error) {
        // refused before queueing (too large, queue full): the records queued before it are aborted with the transaction
        delivery.reject(error);
        return;
      }
    }
    if (messages.length === 0) resolve();
  });
}

export interface TransactionalWriterSettings {
  transactionalId: string;
  transactionTimeoutMs: number;
  compression?: 'none' | 'gzip';
  /** the producer's message.max.bytes */
  maxMessageBytes?: number;
  /** how long a client call the client bounds itself may take before it counts as stuck */
  callDeadlineMs?: number;
  /** test fault injection: called once the records are sent, before the commit */
  afterSend?: () => void;
}

/** A consumer group's position that commits with the transaction (KIP-447: refused once the group moved on). */
export interface TransactionOffsets {
  consumer: Consumer;
  topic: string;
  partition: number;
  /** the next offset to read */
  offset: number;
}

export interface Transaction {
  messages: readonly OutgoingMessage[];
  offsets?: TransactionOffsets;
}

type WriterState = 'idle' | 'ready' | 'transacting' | 'committing' | 'closed';
type Step = 'claim' | 'begin' | 'send' | 'sendOffsets' | 'commit' | 'abort';

/**
 * Which step may run in which state (as kafkajs's eosManager guards its methods), the state while it runs and once
 * it succeeded, and the client call's name. A failure drops the producer (idle); `close` ends in closed from any state.
 */
const STEPS: Record<Step, { legalStates: readonly WriterState[]; during?: WriterState; after?: WriterState; call: string }> = {
  claim: { legalStates: ['idle', 'ready'], after: 'ready', call: 'connect (init_transactions)' },
  begin: { legalStates: ['ready'], after: 'transacting', call: 'begin_transaction' },
  send: { legalStates: ['transacting'], call: 'send' },
  sendOffsets: { legalStates: ['transacting'], call: 'send_offsets_to_transaction' },
  commit: { legalStates: ['transacting'], during: 'committing', after: 'ready', call: 'commit_transaction' },
  abort: { legalStates: ['transacting', 'committing'], call: 'abort_transaction' },
};

/** librdkafka keeps retrying a transaction's records while the brokers are away: say so, so a quiet writer is never a mystery. */
const PENDING_LOG_MS = 15_000;

/**
 * The transactional producer of one transactional id, as every exactly-once writer uses it: one transaction at a
 * time (begin, send, the consumer group's offsets when given, commit), each client call under a deadline. A call
 * that outlives it means the client is wedged (ClientStuckError: the service exits, nothing is queued behind the
 * call). Any other failure aborts the transaction and drops the producer: the next transaction claims the id anew
 * (InitProducerId), which ends for sure whatever the failed one left open and fences any zombie of the same id. A
 * fenced failure is a FencedError.
 */
export class TransactionalWriter {
  private producer: Producer | null = null;
  private state: WriterState = 'idle';
  private readonly callDeadlineMs: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly settings: TransactionalWriterSettings,
    private readonly logger: Logger,
  ) {
    this.callDeadlineMs = settings.callDeadlineMs ?? CLIENT_CALL_DEADLINE_MS;
  }

  get closed(): boolean {
    return this.state === 'closed';
  }

  /** (Re)creates the producer and claims the transactional id; resolves once InitProducerId has ended the previous owner's transaction. */
  async claim(): Promise<void> {
    this.guard('claim');
    await this.reset();
    const producer = createTransactionalProducer(this.kafka, this.settings);
    try {
      await withDeadline(STEPS.claim.call, this.callDeadlineMs, () => producer.connect());
      this.guard('claim');
    } catch (error) {
      await producer.disconnect().catch(() => undefined);
      throw error;
    }
    this.producer = producer;
    this.state = STEPS.claim.after!;
    this.logger.debug({ transactionalId: this.settings.transactionalId }, 'transactional id claimed');
  }

  /** One transaction: all of it commits, or none of it. Claims the id first when no producer holds it. */
  async write(transaction: Transaction): Promise<void> {
    if (this.state !== 'ready') await this.claim();
    const startedAt = Date.now();
    const pending = setInterval(() => this.logger.warn({ pendingMs: Date.now() - startedAt }, 'transaction still pending (brokers unreachable?)'), PENDING_LOG_MS);
    const producer = this.producer!;
    try {
      await this.call('begin', producer, () => producer.transaction());
      // a delivery may take up to the message timeout, which the client sets to the transaction timeout
      if (transaction.messages.length > 0) await this.call('send', producer, () => sendAll(producer, transaction.messages), this.settings.transactionTimeoutMs + this.callDeadlineMs);
      const { offsets } = transaction;
      if (offsets) {
        await this.call('sendOffsets', producer, () =>
          producer.sendOffsets({ consumer: offsets.consumer, topics: [{ topic: offsets.topic, partitions: [{ partition: offsets.partition, offset: String(offsets.offset) }] }] }),
        );
      }
      this.settings.afterSend?.();
      await this.call('commit', producer, () => producer.commit());
    } catch (error) {
      // A stuck client would only queue the abort and the disconnect behind the stuck call: the service exits.
      if (error instanceof ClientStuckError) throw error;
      if (producer.isActive()) await this.call('abort', producer, () => producer.abort()).catch(() => undefined);
      await this.drop(producer);
      throw isFenced(error) ? new FencedError(error) : error;
    } finally {
      clearInterval(pending);
    }
  }

  /** `write` until committed: see retryTransaction. */
  writeUntilCommitted(transaction: Transaction, options: RetryTransactionOptions & { logger: Logger }): Promise<void> {
    return retryTransaction({ claim: () => this.claim(), write: () => this.write(transaction), isClosed: () => this.closed }, options);
  }

  /** Drops the producer (a new one claims the id when next needed). */
  async reset(): Promise<void> {
    if (this.producer) await this.drop(this.producer);
  }

  /** For good: any transaction in flight fails, nothing is retried. */
  async close(): Promise<void> {
    const producer = this.producer;
    this.producer = null;
    this.state = 'closed';
    await producer?.disconnect().catch(() => undefined);
  }

  private async drop(producer: Producer): Promise<void> {
    // a reset or close meanwhile may have replaced or dropped it already
    if (this.producer === producer) {
      this.producer = null;
      if (this.state !== 'closed') this.state = 'idle';
    }
    await producer.disconnect().catch(() => undefined);
  }

  /** Throws unless `step` is legal now (and `producer`, when given, is still the writer's). */
  private guard(step: Step, producer?: Producer): void {
    if (STEPS[step].legalStates.includes(this.state) && (producer === undefined || producer === this.producer)) return;
    // a reset or close under a transaction in flight: try again with a new producer, unless closed
    throw new ServiceError(`transactional id ${this.settings.transactionalId}: cannot ${step} while ${this.state}`, {
      reason: 'transaction-state',
      retriable: this.state !== 'closed',
    });
  }

  private async call<T>(step: Step, producer: Producer, run: () => Promise<T>, deadlineMs = this.callDeadlineMs): Promise<T> {
    const { during, after, call } = STEPS[step];
    this.guard(step, producer);
    if (during) this.state = during;
    const result = await withDeadline(call, deadlineMs, run);
    // a reset or close meanwhile has the last word
    if (after && this.producer === producer) this.state = after;
    return result;
  }
}

export interface RetryTransactionOptions {
  /**
   * After a failed attempt, whether the broker committed it anyway (a commit can fail ambiguously: the broker
   * committed and died before answering). Asked once the id is claimed anew, so the failed transaction has ended
   * for sure; a check that throws fails the attempt and is asked again before the next one, never taken for "no".
   */
  landed?: () => Promise<boolean>;
  /** besides a closed writer and a stuck client, which are never retried (default: everything else) */
  isTransient?: (error: unknown) => boolean;
  /** false once the transaction is no longer wanted (its batch gone stale): no further attempt, the last error is thrown */
  isWanted?: () => boolean;
  /** the service's stop: no further attempt, a backoff wait under way ends at once */
  signal?: AbortSignal;
  baseDelayMs?: number;
  /** how a failure reads in the retry log and when thrown */
  explain?: (error: unknown) => unknown;
  /** besides the log line of each retry (metrics) */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** What `retryTransaction` drives: a TransactionalWriter, or a unit's own adapter over one (a fake in unit tests). */
export interface TransactionAttempts {
  claim(): Promise<void>;
  write(): Promise<void>;
  /** closed for good: nothing is retried */
  isClosed?(): boolean;
}

/**
 * Writes one transaction until it commits, with backoff, each retry on a newly claimed id. Before sending it again
 * `landed` (when given) decides whether the failed attempt had committed after all, so a transaction is never
 * committed twice. Resolves once committed; throws when stopped or on an error not worth retrying.
 */
export async function retryTransaction(target: TransactionAttempts, options: RetryTransactionOptions & { logger: Logger }): Promise<void> {
  const explain = options.explain ?? ((error: unknown) => error);
  const wanted = options.isWanted ?? (() => true);
  let lastError: unknown;
  await retry(
    async (attempt) => {
      // gone stale during the backoff wait: claiming the id again would fence its new owner
      if (attempt > 1 && !wanted()) throw lastError;
      if (attempt > 1 && options.landed) {
        await target.claim();
        if (await options.landed()) {
          options.logger.warn({ attempt }, 'the failed transaction had been committed; not sending it again');
          return;
        }
      }
      try {
        await target.write();
      } catch (error) {
        throw explain(error);
      }
    },
    {
      isTransient: (error) => !target.isClosed?.() && !(error instanceof ClientStuckError) && wanted() && (options.isTransient?.(error) ?? true),
      maxAttempts: Number.POSITIVE_INFINITY,
      baseDelayMs: options.baseDelayMs ?? 500,
      maxDelayMs: 30_000,
      signal: options.signal,
      onRetry: (info) => {
        lastError = info.error;
        options.onRetry?.(info);
        options.logger.warn({ err: info.error, attempt: info.attempt, backoffMs: info.delayMs }, 'transaction failed; retrying with a new producer');
      },
    },
  );
}
