import confluent, { type KafkaJS } from '@confluentinc/kafka-javascript';
import type { Logger } from '../logging/logger.js';
import { KafkaAccessError, KafkaErrorCodes, kafkaLogAccessProblem } from './errors.js';
import type { KafkaSecurity } from './security.js';

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

const { Kafka: ConfluentKafka, logLevel: LogLevel } = confluent.KafkaJS;

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
    settings.onAccessFailure?.(new KafkaAccessError(problem, message.split('\n')[0]!));
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

/** KAFKA_CONSUMER_PREFETCH_BYTES' default: ≈ 0.6 s of the processor's input at 10k rows/s of 1.3 KiB envelopes. */
export const CONSUMER_PREFETCH_BYTES_DEFAULT = 8 * 1024 * 1024;

/**
 * librdkafka's properties that bound what a consumer holds ahead of the application: its queue of fetched records
 * (`queued.max.messages.kbytes`, one queue for all partitions of a group consumer; 64 MiB by default) and one fetch
 * response (`fetch.max.bytes`; 50 MB by default, per broker). A record batch larger than either is still fetched,
 * alone: a fetch response holds at least one whole record batch, however large, so records up to maxMessageBytes fit
 * within `receive.message.max.bytes` (100 MB by default). With a small queue the default 1 s pause before fetching
 * again, once it was full, would leave the application without records: 50 ms. On top of librdkafka's queue, the
 * JavaScript client keeps its own cache of records taken from it, sized to this long of consumption per partition
 * processed at once (default 1.5 s: 60 MiB of envelopes at 30,000 records a second): 250 ms.
 */
export function consumerPrefetchBounds(prefetchBytes: number, maxMessageBytes?: number): Record<string, number> {
  return {
    'js.consumer.max.cache.size.per.worker.ms': 250,
    'queued.max.messages.kbytes': Math.max(1, Math.floor(prefetchBytes / 1024)),
    'fetch.max.bytes': prefetchBytes,
    'fetch.queue.backoff.ms': 50,
    ...(maxMessageBytes ? { 'receive.message.max.bytes': Math.max(maxMessageBytes, prefetchBytes) + 1024 * 1024 } : {}),
  };
}

/** the client's name of a partition's first record still in the log, in an assignment */
const OFFSET_BEGINNING = 'beginning';

/** An assigned partition that librdkafka does not fetch, and the offset it would read next. */
export interface HaltedPartition {
  topic: string;
  partition: number;
  next: number;
}

/** How often librdkafka reports its partitions' fetch states (a halted partition is seen within this). */
const FETCH_STATE_REPORT_MS = 5000;

/**
 * A read_committed group consumer that commits only when told (by a transaction or commitOffsets). A partition the
 * group never committed on starts at the beginning (assigned so explicitly); every other position is never reset
 * (`auto.offset.reset: error`): where retention deleted the records a position points at (while the service ran, or
 * before a rebalance gave it the partition), librdkafka would otherwise skip to the earliest record without a word.
 * Instead the partition stops fetching. librdkafka raises the error on a consume call, which the client only logs
 * (and drops when records of other partitions come in the same call), so the consumer's statistics are watched:
 * each report lists the assigned partitions not being fetched (`onHalted`), for the caller to compare with the log
 * start. librdkafka heartbeats from its own thread; `rebalanceTimeout` is also the longest one eachBatch call may
 * take before the member is expelled.
 */
export function createGroupConsumer(
  kafka: Kafka,
  settings: {
    groupId: string;
    sessionTimeoutMs: number;
    maxBatchSize?: number;
    maxMessageBytes?: number;
    /** KAFKA_CONSUMER_PREFETCH_BYTES (see consumerPrefetchBounds) */
    prefetchBytes?: number;
    /** a pattern subscription: how often librdkafka fetches the topic list again to find new matching topics */
    metadataRefreshMs?: number;
    onRebalance?: RebalanceListener;
    onHalted: (partitions: HaltedPartition[]) => void;
  },
): Consumer {
  const rebalanceTimeout = Math.max(60000, settings.sessionTimeoutMs);
  const consumer: Consumer = kafka.consumer({
    kafkaJS: {
      groupId: settings.groupId,
      readUncommitted: false,
      autoCommit: false,
      sessionTimeout: settings.sessionTimeoutMs,
      heartbeatInterval: Math.max(500, Math.min(3000, Math.floor(settings.sessionTimeoutMs / 3))),
      rebalanceTimeout,
      allowAutoTopicCreation: false,
      // An idle fetch returns after this long: bounds how long a shutdown waits for the consumer to stop.
      maxWaitTimeInMs: 1000,
    },
    'auto.offset.reset': 'error',
    'isolation.level': 'read_committed',
    'js.consumer.max.batch.size': settings.maxBatchSize ?? 1000,
    ...consumerPrefetchBounds(settings.prefetchBytes ?? CONSUMER_PREFETCH_BYTES_DEFAULT, settings.maxMessageBytes),
    // librdkafka's default, 5 minutes, is how long a new topic of a pattern would wait to be read.
    ...(settings.metadataRefreshMs ? { 'topic.metadata.refresh.interval.ms': settings.metadataRefreshMs } : {}),
    'statistics.interval.ms': FETCH_STATE_REPORT_MS,
    stats_cb: (report: { message: string } | string) => {
      const halted = haltedPartitions(typeof report === 'string' ? report : report.message);
      if (halted.length > 0) settings.onHalted(halted);
    },
    rebalance_cb: async (error: { code: number }, partitions: TopicPartition[]) => {
      const kind = error.code === KafkaErrorCodes.ERR__ASSIGN_PARTITIONS ? 'assign' : 'revoke';
      settings.onRebalance?.({ kind, partitions });
      if (kind === 'assign') return startNeverCommittedAtBeginning(consumer, partitions, rebalanceTimeout);
      return undefined;
    },
  });
  return consumer;
}

interface PartitionStatistics {
  partition: number;
  desired: boolean;
  fetch_state: string;
  app_offset: number;
  committed_offset: number;
}

/**
 * From a librdkafka statistics report: the assigned partitions in fetch state "none" (halted after a refused reset,
 * or briefly while being assigned) whose next offset is known (the application's position, else the committed
 * offset).
 */
export function haltedPartitions(statistics: string): HaltedPartition[] {
  const { topics } = JSON.parse(statistics) as { topics?: Record<string, { partitions: Record<string, PartitionStatistics> }> };
  const halted: HaltedPartition[] = [];
  for (const [topic, { partitions }] of Object.entries(topics ?? {})) {
    for (const p of Object.values(partitions)) {
      const next = p.app_offset >= 0 ? p.app_offset : p.committed_offset;
      if (p.partition >= 0 && p.desired && p.fetch_state === 'none' && next >= 0) halted.push({ topic, partition: p.partition, next });
    }
  }
  return halted;
}

/**
 * The assignment, with the partitions the group has no committed offset on starting at the beginning (where
 * `auto.offset.reset: error` would stop them). If the committed offsets cannot be read within the rebalance
 * timeout this throws and the client assigns the partitions as they are: one without a committed offset then
 * waits, unfetched (never skipped), until the next rebalance.
 */
async function startNeverCommittedAtBeginning(consumer: Consumer, partitions: TopicPartition[], timeoutMs: number): Promise<(TopicPartition & { offset?: string })[] | undefined> {
  if (partitions.length === 0) return undefined;
  const committed = await consumer.committed(partitions.map(({ topic, partition }) => ({ topic, partition })), timeoutMs);
  const hasOffset = new Set(committed.filter((c) => c.offset !== null && Number(c.offset) >= 0).map((c) => `${c.topic}/${c.partition}`));
  return partitions.map(({ topic, partition }) => (hasOffset.has(`${topic}/${partition}`) ? { topic, partition } : { topic, partition, offset: OFFSET_BEGINNING }));
}
