import * as fields from '../config/fields.js';

/** Variables every service understands; spread into each service's schema. */
export const commonFields = (defaultHttpPort: number) => ({
  LOG_LEVEL: fields.logLevel,
  HTTP_PORT: fields.port(defaultHttpPort),
  SHUTDOWN_TIMEOUT_MS: fields.positiveInt(15000),
});

export const kafkaFields = (clientId: string) => ({
  KAFKA_BROKERS: fields.brokerList('127.0.0.1:9092'),
  KAFKA_CLIENT_ID: fields.nonEmpty(clientId),
  /** attempts to reach Kafka at start-up, with backoff in between, before the service gives up */
  KAFKA_CONNECT_RETRIES: fields.nonNegativeInt(5),
});

/** Services whose /readyz watches failures after the start (processor, loader). */
export const readinessFields = () => ({
  /**
   * a failure lasting this long turns /readyz to 503 with its reason (Kafka unreachable; the loader's group not
   * loading). Faults that do not go away by themselves (permission, billing, a full volume) do so at once.
   */
  NOT_READY_AFTER_MS: fields.positiveInt(180_000),
});
