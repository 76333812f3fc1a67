import * as fields from '../config/fields.js';
import type { Logger } from '../logging/logger.js';
import type { KafkaSettings } from '../kafka/client.js';
import { kafkaSecurityFields, kafkaSecurityOf } from '../kafka/security.js';

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
  ...kafkaSecurityFields(),
});

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
export const readinessFields = () => ({
  /**
   * a failure lasting this long turns /readyz to 503 with its reason (Kafka unreachable; the loader's group not
   * loading). Faults that do not go away by themselves (permission, billing, a full volume) do so at once.
   */
  NOT_READY_AFTER_MS: fields.positiveInt(180_000),
});
