import { Kafka, logLevel as KafkaLogLevel, type LogEntry } from 'kafkajs';
import type { Logger } from '../logging/logger.js';

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
