import { consumerGroup, deadLetterTopicOf, deadLetterWrite, describeTopic, readTopic, templatePrefix, templateTopicPattern, topicsPrefixed, topicWithDeadLetter, transactionalIds, writeTopic, type Admin, type KafkaAcl, type TopicSpec } from '@cdc/core';
import type { ProcessorConfig } from './config.js';

/**
 * The processor's topics: its input topics and the files topic, each with its dead-letter topic. The topics of a
 * template are the cdc's to create (with their dead-letter topics), as it finds their collections.
 */
export function processorTopics(config: ProcessorConfig): TopicSpec[] {
  const inputs = config.PROCESSOR_TOPIC_TEMPLATE === undefined ? config.PROCESSOR_TOPICS : [];
  return [...inputs.flatMap((t) => topicWithDeadLetter(t, 'cdc', config)), ...topicWithDeadLetter(config.PROCESSOR_FILES_TOPIC, 'files', config)];
}

/** What the consumer subscribes to: the named topics, or the template's pattern (also topics created later). */
export function inputSubscription(config: ProcessorConfig): string[] | RegExp {
  return config.PROCESSOR_TOPIC_TEMPLATE === undefined ? config.PROCESSOR_TOPICS : templateTopicPattern(config.PROCESSOR_TOPIC_TEMPLATE);
}

/** The input topics there are now (a pattern's: those the broker lists that match it). */
export async function currentInputTopics(config: ProcessorConfig, admin: Admin): Promise<string[]> {
  const subscription = inputSubscription(config);
  if (Array.isArray(subscription)) return subscription;
  return (await admin.listTopics()).filter((topic) => subscription.test(topic)).sort();
}

/**
 * What the processor's principal may do, and nothing more: read its input topics in its group, write their
 * dead-letter topics and the files topic, run transactions with its transactional ids (`<group>-<topic>-<partition>`,
 * which commit the group's offsets), and see the files topic's dead-letter topic (its start-up check lists every
 * topic above; the loader writes that one). Its topics are made by the admin.
 */
export function processorAcls(config: ProcessorConfig): KafkaAcl[] {
  return [
    ...inputAcls(config),
    writeTopic(config.PROCESSOR_FILES_TOPIC),
    describeTopic(deadLetterTopicOf(config.PROCESSOR_FILES_TOPIC)),
    consumerGroup(config.PROCESSOR_GROUP_ID),
    transactionalIds(`${config.PROCESSOR_GROUP_ID}-`),
  ];
}

/**
 * The input topics' rights. A template's topics are granted by its fixed prefix (Kafka's ACLs match no pattern but a
 * prefix): READ, and WRITE for their dead-letter topics, which share it.
 */
function inputAcls(config: ProcessorConfig): KafkaAcl[] {
  const template = config.PROCESSOR_TOPIC_TEMPLATE;
  if (template === undefined) return config.PROCESSOR_TOPICS.flatMap((topic) => [readTopic(topic), deadLetterWrite(topic)]);
  const prefix = templatePrefix(template);
  return [topicsPrefixed(prefix, 'READ', 'PROCESSOR_TOPIC_TEMPLATE'), topicsPrefixed(prefix, 'WRITE', 'PROCESSOR_TOPIC_TEMPLATE')];
}
