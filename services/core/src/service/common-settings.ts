import { setting, settingsSchema, type Settings } from '../config/settings.js';
import * as fields from '../config/fields.js';
import type { Logger } from '../logging/logger.js';
import { CONSUMER_PREFETCH_BYTES_DEFAULT, type KafkaSettings } from '../kafka/client.js';
import { checkKafkaSecurity, kafkaSecurityOf, kafkaSecuritySettings } from '../kafka/security.js';
import { topicSettings } from '../kafka/topics.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Variables every service understands; spread into each service's settings. */
export const commonSettings = {
  LOG_LEVEL: setting.oneOf(LOG_LEVELS, {
    default: 'info',
    description: 'least severe log level written (JSON lines on stdout); in .env also per service: CDC_LOG_LEVEL, PROCESSOR_LOG_LEVEL, LOADER_LOG_LEVEL',
  }),
  SHUTDOWN_TIMEOUT_MS: setting.durationMs({
    default: 15000,
    description: 'on SIGTERM, what is in flight is finished within this time, then the process exits anyway',
  }),
  SERVICE_INSTANCE: setting.text({
    description: 'a label on every log line, when several instances of a service run',
    envFileName: null,
  }),
};

/** The variables whose default differs per service; in .env they carry the service's prefix (CDC_HTTP_PORT). */
export function perServiceSettings(service: 'cdc' | 'processor' | 'loader', httpPort: number) {
  const prefix = service.toUpperCase();
  return {
    HTTP_PORT: setting.port({
      default: httpPort,
      description: `the ${service}'s ops HTTP port (/healthz /readyz /metrics), which docker compose publishes on OPS_BIND_ADDRESS`,
      envFileName: `${prefix}_HTTP_PORT`,
    }),
    HTTP_BIND_ADDRESS: setting.text({
      default: '127.0.0.1',
      check: fields.bindAddress,
      values: 'IPv4 address',
      description: 'address the ops HTTP server listens on: the loopback outside containers (nothing else on the host reaches the metrics); the images set 0.0.0.0, their port published on OPS_BIND_ADDRESS',
      envFileName: null,
    }),
    KAFKA_CLIENT_ID: setting.text({
      default: service,
      description: `the ${service}'s Kafka client id, also the prefix of its transactional ids: keep them distinct per service`,
      envFileName: `${prefix}_KAFKA_CLIENT_ID`,
    }),
  };
}

/** The Kafka connection of every service (with `perServiceSettings`' client id). */
export const kafkaSettings = {
  KAFKA_BROKERS: setting.list({
    default: '127.0.0.1:9092',
    item: fields.broker,
    values: 'host:port,...',
    description: 'bootstrap brokers (docker compose hands the services the network\'s brokers, scripts/stack.sh the local one: set it only to run a service by hand)',
  }),
  KAFKA_CONNECT_RETRIES: setting.int({
    default: 5,
    min: 0,
    description: 'attempts to reach Kafka at start-up, with backoff in between, before the service gives up',
  }),
  ...kafkaSecuritySettings,
};

/** Services that read a data topic with a group consumer (processor). */
export const kafkaConsumerSettings = {
  KAFKA_CONSUMER_PREFETCH_BYTES: setting.int({
    default: CONSUMER_PREFETCH_BYTES_DEFAULT,
    min: 1024 * 1024,
    max: 64 * 1024 * 1024,
    unit: 'bytes',
    description:
      "most bytes of records the Kafka consumer fetches ahead of the processing (librdkafka's queued.max.messages.kbytes and fetch.max.bytes), which bounds the consumer's memory; a record larger than this is still fetched, alone",
  }),
};

/** Services that write with Kafka transactions (cdc, processor). */
export const kafkaTransactionSettings = {
  KAFKA_TRANSACTION_TIMEOUT_MS: setting.durationMs({
    default: 60000,
    description: 'a producer transaction (cdc: a batch of events and its checkpoint; processor: file event, dead letters and offsets) not committed within this time is aborted by the broker',
  }),
};

/**
 * The client factory's settings from a service's config (`createKafka(kafkaSettingsOf(config, logger, fail))`):
 * refused credentials, certificates or ACLs end the service through `onAccessFailure`.
 */
export function kafkaSettingsOf(
  config: { KAFKA_BROKERS: string[]; KAFKA_CLIENT_ID: string } & Parameters<typeof kafkaSecurityOf>[0],
  logger: Logger,
  onAccessFailure?: (error: Error) => void,
): KafkaSettings {
  return { brokers: config.KAFKA_BROKERS, clientId: config.KAFKA_CLIENT_ID, logger, security: kafkaSecurityOf(config), onAccessFailure };
}

/** Services whose /readyz watches failures after the start (processor, loader). */
export const readinessSettings = {
  NOT_READY_AFTER_MS: setting.durationMs({
    default: 180_000,
    description:
      'a failure lasting this long turns /readyz to 503 with its reason (Kafka not answering, the loader\'s files not loading because of quota or server errors, a loader step waiting this long on BigQuery or Cloud Storage); permission, billing or a missing table (loader) and a Parquet volume without room for a batch (processor) do so at once',
  }),
};

/**
 * The config schema of a service on Kafka (cdc, processor, loader): its own settings, the Kafka connection and the
 * topics it creates, those of every service; the rules between the security variables checked.
 */
export function kafkaServiceSchema<S extends Settings>(own: S) {
  return settingsSchema({ ...own, ...kafkaSettings, ...topicSettings, ...commonSettings }).superRefine((config, ctx) =>
    // the generic S hides from the compiler that the security variables are among these
    checkKafkaSecurity(config as Parameters<typeof checkKafkaSecurity>[0], ctx),
  );
}
