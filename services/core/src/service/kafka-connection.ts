import { createKafka, type Admin, type Kafka } from '../kafka/client.js';
import { watchKafkaReachability } from '../kafka/reachability.js';
import { ensureTopicsWithRetry, type TopicSpec } from '../kafka/topics.js';
import { connectOrExplain, type ServiceContext } from './bootstrap.js';
import { kafkaSettingsOf } from './common-settings.js';

type WatchedKafkaConfig = Parameters<typeof kafkaSettingsOf>[0] & { KAFKA_CONNECT_RETRIES: number; NOT_READY_AFTER_MS: number };

/**
 * Kafka for a service that stays connected (processor, loader): the client, and an admin kept open whose answers
 * /readyz watches ("kafka", after NOT_READY_AFTER_MS of silence), with which the service's topics are made or
 * checked at start. Both end with the service.
 */
export async function connectWatchedKafka(
  { config, logger, shutdown, addReadinessCheck, fail }: ServiceContext<WatchedKafkaConfig>,
  topics: TopicSpec[],
): Promise<{ kafka: Kafka; admin: Admin }> {
  const kafka = createKafka(kafkaSettingsOf(config, logger, fail));
  const admin = kafka.admin();
  await admin.connect();
  shutdown.register('kafka admin', () => admin.disconnect());
  const reachability = watchKafkaReachability(admin, logger, { notReadyAfterMs: config.NOT_READY_AFTER_MS });
  shutdown.register('kafka reachability', () => reachability.stop());
  addReadinessCheck('kafka', reachability.check);
  await connectOrExplain(`reach Kafka brokers ${config.KAFKA_BROKERS.join(',')}`, () =>
    ensureTopicsWithRetry(admin, topics, { attempts: config.KAFKA_CONNECT_RETRIES + 1, logger }),
  );
  return { kafka, admin };
}
