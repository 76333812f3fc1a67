import { consumerGroup, deadLetterTopicOf, deadLetterWrite, describeTopic, readTopic, topicWithDeadLetter, transactionalIds, writeTopic, type KafkaAcl, type TopicSpec } from '@cdc/core';
import type { ProcessorConfig } from './config.js';

/** The processor's topics: its input topics and the files topic, each with its dead-letter topic. */
export function processorTopics(config: ProcessorConfig): TopicSpec[] {
  return [...config.PROCESSOR_TOPICS.flatMap((t) => topicWithDeadLetter(t, 'cdc', config)), ...topicWithDeadLetter(config.PROCESSOR_FILES_TOPIC, 'files', config)];
}

/**
 * What the processor's principal may do, and nothing more: read its input topics in its group, write their
 * dead-letter topics and the files topic, run transactions with its transactional ids (`<group>-<topic>-<partition>`,
 * which commit the group's offsets), and see the files topic's dead-letter topic (its start-up check lists every
 * topic above; the loader writes that one). Its topics are made by the admin.
 */
export function processorAcls(config: ProcessorConfig): KafkaAcl[] {
  return [
    ...config.PROCESSOR_TOPICS.flatMap((topic) => [readTopic(topic), deadLetterWrite(topic)]),
    writeTopic(config.PROCESSOR_FILES_TOPIC),
    describeTopic(deadLetterTopicOf(config.PROCESSOR_FILES_TOPIC)),
    consumerGroup(config.PROCESSOR_GROUP_ID),
    transactionalIds(`${config.PROCESSOR_GROUP_ID}-`),
  ];
}
