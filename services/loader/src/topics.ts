import { consumerGroup, deadLetterWrite, readTopic, topicWithDeadLetter, type KafkaAcl, type TopicSpec } from '@cdc/core';
import type { LoaderConfig } from './config.js';

/** The loader's topics: the files topic and its dead-letter topic (quarantined files). */
export function loaderTopics(config: LoaderConfig): TopicSpec[] {
  return topicWithDeadLetter(config.LOADER_FILES_TOPIC, 'files', config);
}

/**
 * What the loader's principal may do, and nothing more: read the files topic in its group (committing its offsets)
 * and report quarantined files on the dead-letter topic (a plain producer: no transactional id). Its topics are made
 * by the admin.
 */
export function loaderAcls(config: LoaderConfig): KafkaAcl[] {
  return [readTopic(config.LOADER_FILES_TOPIC), deadLetterWrite(config.LOADER_FILES_TOPIC), consumerGroup(config.LOADER_GROUP_ID)];
}
