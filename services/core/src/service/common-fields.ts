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
