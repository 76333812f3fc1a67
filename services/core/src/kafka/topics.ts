import type { Admin } from './client.js';
import type { Logger } from '../logging/logger.js';
import { retry } from '../lifecycle/retry.js';
import { setting } from '../config/settings.js';
import { explainAccessRefusal, kafkaAccessProblem } from './errors.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  config?: Record<string, string>;
}

/** Create missing topics; existing ones are left as they are (idempotent, safe across concurrent starts). */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: s.replicationFactor,
      configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing });
  } catch (error) {
    // Another instance may have created them between listTopics and createTopics.
    const nowExisting = new Set(await admin.listTopics());
    if (missing.some((t) => !nowExisting.has(t.topic))) throw error;
  }
}

/**
 * ensureTopics at start-up, when the broker may still be coming up: librdkafka connects lazily, so this is the
 * first request that needs it; failures are retried with backoff `attempts` times in all, except those saying that
 * credentials, certificates or ACLs were refused: they end it naming what to check. (A refused login or TLS
 * handshake mostly shows only in the client's log: see the factory's `onAccessFailure`.)
 */
export async function ensureTopicsWithRetry(admin: Admin, specs: TopicSpec[], options: { attempts: number; logger: Logger }): Promise<void> {
  try {
    await retry(() => ensureTopics(admin, specs), {
      // refused credentials or ACLs do not get better by waiting
      isTransient: (error) => kafkaAccessProblem(error) === null,
      maxAttempts: Math.max(1, options.attempts),
      baseDelayMs: 300,
      maxDelayMs: 10000,
      onRetry: ({ attempt, delayMs, error }) => options.logger.warn({ err: error, attempt, delayMs }, 'Kafka not reachable yet; retrying'),
    });
  } catch (error) {
    throw explainAccessRefusal(error, errorText(error));
  }
}

/** An error's message, or those of the errors it aggregates (createTopics: one per topic, naming it). */
function errorText(error: unknown): string {
  const { message, errors } = error as { message?: string; errors?: { topic?: string; message?: string }[] };
  if (!Array.isArray(errors)) return String(message);
  return errors.map((e) => (e.topic ? `${e.topic}: ${e.message}` : e.message)).join('; ');
}

/** The dead-letter topic paired with a topic. */
export function deadLetterTopicOf(topic: string): string {
  return `${topic}.dlq`;
}

/** 65 MiB: CDC_MAX_MESSAGE_BYTES' 64 MiB event plus room for the key, headers and record-batch framing. */
export const KAFKA_MAX_MESSAGE_BYTES_DEFAULT = 65 * 1024 * 1024;
/** What a record batch of one event needs beyond its value: key (the document id), headers, batch framing. */
export const RECORD_OVERHEAD_BYTES = 64 * 1024;

/**
 * Partitions, replication and retention of the topics the services create (each service its own topics when
 * missing; deploy.sh all of them up front, from the services' `--print-topics`). Spread into each service's settings.
 */
export const topicSettings = {
  KAFKA_TOPIC_PARTITIONS: setting.int({
    default: 6,
    min: 1,
    description: 'partitions of the CDC and files topics (deploy.sh creates them; services create missing topics the same way)',
  }),
  KAFKA_REPLICATION_FACTOR: setting.int({
    default: 1,
    min: 1,
    description: 'replication factor of the topics (3 with COMPOSE_HA=true: deploy.sh raises it)',
  }),
  KAFKA_CDC_TOPIC_RETENTION_MS: setting.durationMs({ default: 604800000, min: -1, description: 'retention of the CDC topics (-1: forever)' }),
  KAFKA_FILES_TOPIC_RETENTION_MS: setting.durationMs({ default: 604800000, min: -1, description: 'retention of the files topic (-1: forever)' }),
  KAFKA_DLQ_TOPIC_RETENTION_MS: setting.durationMs({ default: 2592000000, min: -1, description: 'retention of the dead-letter topics (-1: forever)' }),
  KAFKA_MAX_MESSAGE_BYTES: setting.int({
    default: KAFKA_MAX_MESSAGE_BYTES_DEFAULT,
    min: 1,
    unit: 'bytes',
    description:
      "largest Kafka record batch of a CDC topic: the topic's max.message.bytes when a service creates it, the cdc producer's message.max.bytes and the processor's fetch limits (65 MiB holds a 16 MiB document with its pre-image and update description); the broker's message.max.bytes / replica.fetch.max.bytes must be at least this",
  }),
};

export interface TopicSettings {
  KAFKA_TOPIC_PARTITIONS: number;
  KAFKA_REPLICATION_FACTOR: number;
  KAFKA_CDC_TOPIC_RETENTION_MS: number;
  KAFKA_FILES_TOPIC_RETENTION_MS: number;
  KAFKA_DLQ_TOPIC_RETENTION_MS: number;
  KAFKA_MAX_MESSAGE_BYTES: number;
}

/**
 * A data topic ('cdc' or 'files') and its dead-letter topic (one partition, its own retention). A CDC topic takes
 * records up to KAFKA_MAX_MESSAGE_BYTES (max.message.bytes), whatever the broker's default.
 */
export function topicWithDeadLetter(topic: string, kind: 'cdc' | 'files', settings: TopicSettings): TopicSpec[] {
  const retention = kind === 'cdc' ? settings.KAFKA_CDC_TOPIC_RETENTION_MS : settings.KAFKA_FILES_TOPIC_RETENTION_MS;
  const config: Record<string, string> = { 'retention.ms': String(retention) };
  if (kind === 'cdc') config['max.message.bytes'] = String(settings.KAFKA_MAX_MESSAGE_BYTES);
  return [
    { topic, numPartitions: settings.KAFKA_TOPIC_PARTITIONS, replicationFactor: settings.KAFKA_REPLICATION_FACTOR, config },
    {
      topic: deadLetterTopicOf(topic),
      numPartitions: 1,
      replicationFactor: settings.KAFKA_REPLICATION_FACTOR,
      config: { 'retention.ms': String(settings.KAFKA_DLQ_TOPIC_RETENTION_MS) },
    },
  ];
}

/** One line per topic, `NAME PARTITIONS REPLICATION KEY=VALUE,...` (`-` for no config): what deploy.sh reads. */
export function formatTopicPlan(specs: TopicSpec[]): string {
  return specs
    .map((s) => {
      const config = Object.entries(s.config ?? {}).map(([key, value]) => `${key}=${value}`).join(',');
      return `${s.topic} ${s.numPartitions} ${s.replicationFactor} ${config || '-'}\n`;
    })
    .join('');
}
