import { topicWithDeadLetter, type TopicSpec } from '@cdc/core';
import type { CdcConfig } from './config.js';
import { checkpointTopicSpec } from './checkpoint/checkpoint-store.js';
import { parseNamespace, topicFor } from './transform/routing.js';

/**
 * The topics of the CDC service: per collection its change topic and that topic's dead-letter topic, and the
 * checkpoint topic. `namespaces`: the collections of this instance (default: all, what deploy.sh creates).
 */
export function cdcTopics(config: CdcConfig, namespaces: string[] = config.CDC_COLLECTIONS): TopicSpec[] {
  const topics = new Set(namespaces.map((ns) => topicFor(config.CDC_TOPIC_TEMPLATE, parseNamespace(ns).db, parseNamespace(ns).coll)));
  return [...[...topics].flatMap((topic) => topicWithDeadLetter(topic, 'cdc', config)), checkpointTopicSpec(config.CDC_CHECKPOINT_TOPIC, config.KAFKA_REPLICATION_FACTOR)];
}
