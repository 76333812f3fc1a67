import { consumerGroup, deadLetterWrite, readTopic, templatePrefix, topicsPrefixed, topicWithDeadLetter, transactionalIds, writeTopic, type KafkaAcl, type TopicSpec } from '@cdc/core';
import type { CdcConfig } from './config.js';
import { CHECKPOINT_READER_GROUP_PREFIX, checkpointTopicSpec } from './checkpoint/checkpoint-store.js';
import { parseNamespace, topicFor } from './transform/routing.js';

/**
 * The topics of the CDC service: per collection its change topic and that topic's dead-letter topic, and the
 * checkpoint topic. `namespaces`: the collections of this instance (default: all, what deploy.sh creates).
 */
export function cdcTopics(config: CdcConfig, namespaces: string[] = config.CDC_COLLECTIONS): TopicSpec[] {
  return [...changeTopics(config, namespaces).flatMap((topic) => topicWithDeadLetter(topic, 'cdc', config)), checkpointTopicSpec(config.CDC_CHECKPOINT_TOPIC, config.KAFKA_REPLICATION_FACTOR)];
}

/** The change topics of the collections, each once (several collections may share one). */
function changeTopics(config: CdcConfig, namespaces: string[]): string[] {
  return [...new Set(namespaces.map((ns) => topicFor(config.CDC_TOPIC_TEMPLATE, parseNamespace(ns).db, parseNamespace(ns).coll)))];
}

/**
 * What the cdc's principal may do, and nothing more: write its change topics (and their dead-letter topics, for
 * events too large for any table), write and read back the checkpoint topic in groups of its own, and run
 * transactions with its transactional ids (`<KAFKA_CLIENT_ID>-<stream>`). Its topics are made by the admin.
 */
export function cdcAcls(config: CdcConfig): KafkaAcl[] {
  return [
    ...changeTopicAcls(config),
    writeTopic(config.CDC_CHECKPOINT_TOPIC),
    readTopic(config.CDC_CHECKPOINT_TOPIC),
    consumerGroup(CHECKPOINT_READER_GROUP_PREFIX, { prefixed: true }),
    transactionalIds(`${config.KAFKA_CLIENT_ID}-`),
  ];
}

/**
 * The change topics' rights. A database or deployment scope makes the topics of collections found while running:
 * WRITE and CREATE on the template's fixed prefix (Kafka's ACLs match by prefix), which their dead-letter topics share.
 */
function changeTopicAcls(config: CdcConfig): KafkaAcl[] {
  if (config.CDC_CAPTURE_SCOPE === 'collection') return changeTopics(config, config.CDC_COLLECTIONS).flatMap((topic) => [writeTopic(topic), deadLetterWrite(topic)]);
  const prefix = templatePrefix(config.CDC_TOPIC_TEMPLATE);
  return [topicsPrefixed(prefix, 'WRITE', 'CDC_TOPIC_TEMPLATE'), topicsPrefixed(prefix, 'CREATE', 'CDC_TOPIC_TEMPLATE')];
}
