import { Kafka, logLevel as KafkaLogLevel, type Consumer, type LogEntry, type Producer } from 'kafkajs';
import type { Logger } from '../logging/logger.js';
import { javaCompatiblePartitioner } from './partitioner.js';

const levelNames: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [KafkaLogLevel.ERROR]: 'error',
  [KafkaLogLevel.WARN]: 'warn',
  [KafkaLogLevel.INFO]: 'info',
  [KafkaLogLevel.DEBUG]: 'debug',
};

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  retries?: number;
}

/** One kafkajs client whose logs go through pino (so they carry the service name and are JSON). */
export function createKafka(settings: KafkaSettings): Kafka {
  const kafkaLogger = settings.logger.child({ component: 'kafkajs' });
  return new Kafka({
    clientId: settings.clientId,
    brokers: settings.brokers,
    connectionTimeout: settings.connectionTimeoutMs ?? 5000,
    requestTimeout: settings.requestTimeoutMs ?? 30000,
    retry: { initialRetryTime: 300, retries: settings.retries ?? 5, maxRetryTime: 10000 },
    logLevel: KafkaLogLevel.WARN,
    logCreator:
      () =>
      ({ level, log }: LogEntry) => {
        const { message, ...rest } = log;
        kafkaLogger[levelNames[level] ?? 'info']({ ...rest, kafkaNamespace: log.namespace }, message);
      },
  });
}

/**
 * kafkajs consumer retry settings: after a crash (e.g. the member was expelled while the broker was down) the
 * consumer rejoins and resumes from committed offsets instead of the process exiting; after `maxRestarts`
 * crashes in a row without a successful batch in between, it gives up so a permanent fault does not loop forever.
 */
export function consumerRetry(logger: Logger, maxRestarts = 20): { retries: number; restartOnFailure: (error: Error) => Promise<boolean>; markHealthy: () => void } {
  let restarts = 0;
  return {
    retries: 8,
    restartOnFailure: async (error: Error) => {
      restarts++;
      const restart = restarts <= maxRestarts;
      logger.warn({ err: error, restarts, maxRestarts, restart }, restart ? 'consumer failed, rejoining the group' : 'consumer keeps failing, giving up');
      return restart;
    },
    markHealthy: () => {
      restarts = 0;
    },
  };
}

const REJOIN_TYPES = new Set(['UNKNOWN_MEMBER_ID', 'REBALANCE_IN_PROGRESS', 'ILLEGAL_GENERATION', 'NOT_COORDINATOR']);
const REJOIN_MESSAGES = /not aware of this member|rebalanc|generation|not the correct coordinator/i;

/**
 * Coordinator answers meaning "this member must rejoin the group", not that anything is broken. kafkajs wraps
 * them in a KafkaJSNonRetriableError that keeps only the message, hence the message check.
 */
export function isRejoinError(error: unknown): boolean {
  const e = error as { type?: string; message?: string; cause?: { type?: string } } | null;
  return REJOIN_TYPES.has(e?.type ?? '') || REJOIN_TYPES.has(e?.cause?.type ?? '') || REJOIN_MESSAGES.test(e?.message ?? '');
}

/**
 * The transactional producer every exactly-once writer uses: idempotent, one request in flight (ordering),
 * no topic auto-creation, and the Java client's (murmur2) partitioner, as kafkajs's default but cheaper.
 */
export function createTransactionalProducer(kafka: Kafka, settings: { transactionalId: string; transactionTimeoutMs: number }): Producer {
  return kafka.producer({
    transactionalId: settings.transactionalId,
    transactionTimeout: settings.transactionTimeoutMs,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: javaCompatiblePartitioner,
  });
}

export interface GroupConsumer {
  consumer: Consumer;
  retry: ReturnType<typeof consumerRetry>;
  /** rejects when the consumer crashed for good (kafkajs will not restart it) while not stopping */
  failed: Promise<never>;
}

/** A read_committed, manually committed group consumer with the shared restart policy and crash reporting. */
export function createGroupConsumer(
  kafka: Kafka,
  settings: { groupId: string; sessionTimeoutMs: number; heartbeatIntervalMs?: number },
  logger: Logger,
  isStopping: () => boolean,
): GroupConsumer {
  const retry = consumerRetry(logger);
  const consumer = kafka.consumer({
    groupId: settings.groupId,
    readUncommitted: false,
    sessionTimeout: settings.sessionTimeoutMs,
    heartbeatInterval: settings.heartbeatIntervalMs ?? Math.max(500, Math.min(3000, Math.floor(settings.sessionTimeoutMs / 3))),
    rebalanceTimeout: Math.max(60000, settings.sessionTimeoutMs),
    allowAutoTopicCreation: false,
    retry,
    // An idle fetch returns after this long: bounds how long a shutdown waits for the consumer to stop.
    maxWaitTimeInMs: 1000,
  });
  let fail: (error: unknown) => void = () => undefined;
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => undefined);
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    logger.error({ err: payload.error, restart: payload.restart }, 'consumer crashed');
    if (!payload.restart && !isStopping()) fail(payload.error);
  });
  return { consumer, retry, failed };
}
