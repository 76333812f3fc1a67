import confluent, { type KafkaJS } from '@confluentinc/kafka-javascript';
import type { Logger } from '../logging/logger.js';
import { kafkaLogAccessProblem, type KafkaSecurity } from './security.js';

// The Confluent client (librdkafka underneath) through its KafkaJS-compatible API. Services take these types from
// here, so the client is named in one place.
export type Kafka = KafkaJS.Kafka;
export type Producer = KafkaJS.Producer;
export type Consumer = KafkaJS.Consumer;
export type Admin = KafkaJS.Admin;
export type Message = KafkaJS.Message;
export type KafkaMessage = KafkaJS.KafkaMessage;
export type Batch = KafkaJS.Batch;
export type EachBatchPayload = KafkaJS.EachBatchPayload;
export type TopicPartition = KafkaJS.TopicPartition;

const { Kafka: ConfluentKafka, logLevel: LogLevel, ErrorCodes } = confluent.KafkaJS;
export { ErrorCodes as KafkaErrorCodes };

export interface KafkaSettings {
  brokers: string[];
  clientId: string;
  logger: Logger;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** unset: PLAINTEXT */
  security?: KafkaSecurity;
  /**
   * Called once, when the client's log first shows a refused login, TLS handshake or authorization (nothing the
   * client would get past by retrying): the error says what to check.
   */
  onAccessFailure?: (error: Error) => void;
}

const levels: { level: KafkaJS.logLevel; method: 'error' | 'warn' | 'info' | 'debug' }[] = [
  { level: LogLevel.ERROR, method: 'error' },
  { level: LogLevel.WARN, method: 'warn' },
  { level: LogLevel.INFO, method: 'info' },
  { level: LogLevel.DEBUG, method: 'debug' },
];

/**
 * The client's (and librdkafka's) log lines through pino, so they carry the service name and are JSON. Error
 * lines also go to `onError`.
 */
function clientLogger(logger: Logger, initial: KafkaJS.logLevel, onError: (message: string) => void): KafkaJS.Logger {
  let threshold = initial;
  const adapter = {
    setLogLevel: (level: KafkaJS.logLevel) => {
      threshold = level;
    },
    namespace: (namespace: string, level?: KafkaJS.logLevel) => clientLogger(logger.child({ kafkaNamespace: namespace }), level ?? threshold, onError),
  } as KafkaJS.Logger;
  for (const { level, method } of levels) {
    adapter[method] = (message: string, extra?: object) => {
      if (level === LogLevel.ERROR) onError(message);
      if (level <= threshold) logger[method]({ ...extra }, message);
    };
  }
  return adapter;
}

/** The KafkaJS block's names of the mechanisms that take a user name and password. */
const CLIENT_MECHANISMS = { PLAIN: 'plain', 'SCRAM-SHA-256': 'scram-sha-256', 'SCRAM-SHA-512': 'scram-sha-512' } as const;

/**
 * The client's security settings: the KafkaJS block's `ssl`/`sasl` (from which the client sets librdkafka's
 * security.protocol, sasl.mechanisms, sasl.username, sasl.password, and the oauthbearer_token_refresh_cb), and the
 * PEM files as librdkafka properties (the KafkaJS block takes no TLS options but `ssl: true`).
 */
function securityConfig(security: KafkaSecurity | undefined): { kafkaJS: Pick<KafkaJS.KafkaConfig, 'ssl' | 'sasl'>; files: Record<string, string> } {
  if (!security) return { kafkaJS: {}, files: {} };
  const { sasl } = security;
  const files: Record<string, string> = {};
  if (security.caLocation) files['ssl.ca.location'] = security.caLocation;
  if (security.certificateLocation) files['ssl.certificate.location'] = security.certificateLocation;
  if (security.keyLocation) files['ssl.key.location'] = security.keyLocation;
  return {
    kafkaJS: {
      ssl: security.protocol.endsWith('SSL'),
      ...(sasl?.mechanism === 'OAUTHBEARER'
        ? { sasl: { mechanism: 'oauthbearer', oauthBearerProvider: sasl.tokenProvider } }
        : sasl
          ? { sasl: { mechanism: CLIENT_MECHANISMS[sasl.mechanism], username: sasl.username, password: sasl.password } }
          : {}),
    },
    files,
  };
}

/** One client factory per service; producers, consumers and admins made from it share its settings and logger. */
export function createKafka(settings: KafkaSettings): Kafka {
  const security = securityConfig(settings.security);
  let accessFailed = false;
  const onError = (message: string) => {
    const problem = kafkaLogAccessProblem(message);
    if (!problem || accessFailed) return;
    accessFailed = true;
    // first line only: the client appends a stack to some of its lines
    settings.onAccessFailure?.(new Error(`${problem} (${message.split('\n')[0]})`));
  };
  return new ConfluentKafka({
    kafkaJS: {
      clientId: settings.clientId,
      brokers: settings.brokers,
      connectionTimeout: settings.connectionTimeoutMs ?? 5000,
      requestTimeout: settings.requestTimeoutMs ?? 30000,
      logLevel: LogLevel.WARN,
      logger: clientLogger(settings.logger.child({ component: 'kafka' }), LogLevel.WARN, onError),
      ...security.kafkaJS,
    },
    ...security.files,
  });
}

/**
 * The transactional producer every exactly-once writer uses: idempotent (librdkafka keeps order with up to 5
 * requests in flight), acks from all in-sync replicas, no topic auto-creation. librdkafka's default partitioner
 * (murmur2_random) is the Java client's: the same partition for every key.
 */
export function createTransactionalProducer(
  kafka: Kafka,
  settings: { transactionalId: string; transactionTimeoutMs: number; compression?: 'none' | 'gzip'; maxMessageBytes?: number },
): Producer {
  return kafka.producer({
    kafkaJS: {
      transactionalId: settings.transactionalId,
      transactionTimeout: settings.transactionTimeoutMs,
      idempotent: true,
      acks: -1,
      allowAutoTopicCreation: false,
      compression: (settings.compression ?? 'none') as KafkaJS.CompressionTypes,
    },
    partitioner: 'murmur2_random',
    // librdkafka refuses (MSG_SIZE_TOO_LARGE) records above this; its default is 1 MB
    ...(settings.maxMessageBytes ? { 'message.max.bytes': settings.maxMessageBytes } : {}),
  });
}

/** A plain producer (dead letters outside transactions): acks from all in-sync replicas, the Java client's partitioner. */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({ kafkaJS: { acks: -1, allowAutoTopicCreation: false }, partitioner: 'murmur2_random' });
}

/**
 * The client converts the records it is handed in place (headers into its own list form, string values into
 * buffers), and converting a converted record fails ("Header value must be a string or buffer"): every send gets
 * fresh copies, so a retried send, or a retried transaction, sends the records as they were made.
 */
export function freshRecords(messages: readonly Message[]): Message[] {
  return messages.map((m) => ({ ...m, headers: m.headers ? { ...m.headers } : m.headers }));
}

/** Partitions per topic, for logs (`{ "orders-cdc": [0, 2] }`). */
export function assignmentOf(partitions: readonly TopicPartition[]): Record<string, number[]> {
  const byTopic: Record<string, number[]> = {};
  for (const { topic, partition } of partitions) (byTopic[topic] ??= []).push(partition);
  for (const list of Object.values(byTopic)) list.sort((a, b) => a - b);
  return byTopic;
}

export type RebalanceListener = (event: { kind: 'assign' | 'revoke'; partitions: TopicPartition[] }) => void;

/**
 * A read_committed group consumer that commits only when told (by a transaction or commitOffsets), starting from
 * the beginning when the group has no offset. librdkafka heartbeats from its own thread; `rebalanceTimeout` is
 * also the longest one eachBatch call may take before the member is expelled.
 */
export function createGroupConsumer(
  kafka: Kafka,
  settings: { groupId: string; sessionTimeoutMs: number; maxBatchSize?: number; maxMessageBytes?: number; onRebalance?: RebalanceListener },
): Consumer {
  const onRebalance = settings.onRebalance;
  return kafka.consumer({
    kafkaJS: {
      groupId: settings.groupId,
      readUncommitted: false,
      fromBeginning: true,
      autoCommit: false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.min(3000, Math.floor(settings.sessionTimeoutMs / 3))),
      rebalanceTimeout: Math.max(60000, settings.sessionTimeoutMs),
      allowAutoTopicCreation: false,
      // An idle fetch returns after this long: bounds how long a shutdown waits for the consumer to stop.
      maxWaitTimeInMs: 1000,
    },
    'isolation.level': 'read_committed',
    'js.consumer.max.batch.size': settings.maxBatchSize ?? 1000,
    // A fetch response holds at least one whole record batch, however large: records up to maxMessageBytes fit
    // (librdkafka's defaults, 50 MB per fetch and 100 MB per response, are what applies without it).
    ...(settings.maxMessageBytes
      ? { 'fetch.max.bytes': settings.maxMessageBytes, 'receive.message.max.bytes': settings.maxMessageBytes + 1024 * 1024 }
      : {}),
    ...(onRebalance
      ? {
          rebalance_cb: (error: { code: number }, partitions: TopicPartition[]) => {
            onRebalance({ kind: error.code === ErrorCodes.ERR__ASSIGN_PARTITIONS ? 'assign' : 'revoke', partitions });
          },
        }
      : {}),
  });
}
