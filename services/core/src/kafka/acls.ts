import { ConfigError } from '../config/load-config.js';
import { deadLetterTopicOf } from './topics.js';

/** The resource kinds and operations the services need, named as Kafka's ACL tool lists them. */
export type AclResource = 'TOPIC' | 'GROUP' | 'TRANSACTIONAL_ID';
export type AclOperation = 'READ' | 'WRITE' | 'DESCRIBE' | 'CREATE';

/**
 * One right a service's principal needs: an operation on a resource named exactly (LITERAL) or by its prefix
 * (PREFIXED). Kafka implies DESCRIBE from READ and WRITE, so neither is listed with it.
 */
export interface KafkaAcl {
  resource: AclResource;
  pattern: 'LITERAL' | 'PREFIXED';
  name: string;
  operation: AclOperation;
}

const literal = (resource: AclResource, name: string, operation: AclOperation): KafkaAcl => ({ resource, pattern: 'LITERAL', name, operation });
const prefixed = (resource: AclResource, name: string, operation: AclOperation): KafkaAcl => ({ resource, pattern: 'PREFIXED', name, operation });

/** Writes a topic (and, for its rejects, its dead-letter topic). */
export const writeTopic = (topic: string): KafkaAcl => literal('TOPIC', topic, 'WRITE');
/** Reads a topic; a start-up check that only sees it (topics listed, offsets asked) needs DESCRIBE alone. */
export const readTopic = (topic: string): KafkaAcl => literal('TOPIC', topic, 'READ');
export const describeTopic = (topic: string): KafkaAcl => literal('TOPIC', topic, 'DESCRIBE');
/**
 * An operation on every topic whose name starts with `prefix` (the topics of collections found while running, and
 * their dead-letter topics). An empty prefix would grant every topic of the cluster, so it is refused, naming
 * `setting` (the template the prefix comes from).
 */
export function topicsPrefixed(prefix: string, operation: AclOperation, setting: string): KafkaAcl {
  if (prefix === '') {
    throw new ConfigError([{ variable: setting, problem: 'must start with fixed text before its first placeholder (e.g. cdc.{db}.{coll}-changes) for its topics to be granted by prefix; with an empty prefix the grant would cover every topic' }]);
  }
  return prefixed('TOPIC', prefix, operation);
}
export const deadLetterWrite = (topic: string): KafkaAcl => writeTopic(deadLetterTopicOf(topic));
/** Joins (and commits offsets for) the consumer group `group`, or any group whose name starts with it. */
export const consumerGroup = (group: string, options: { prefixed?: boolean } = {}): KafkaAcl =>
  (options.prefixed ? prefixed : literal)('GROUP', group, 'READ');
/** Sees a consumer group's committed offsets, without joining it. */
export const describeGroup = (group: string): KafkaAcl => literal('GROUP', group, 'DESCRIBE');
/** Transactions with every transactional id that starts with `prefix` (InitProducerId, AddPartitions, EndTxn). */
export const transactionalIds = (prefix: string): KafkaAcl => prefixed('TRANSACTIONAL_ID', prefix, 'WRITE');

/** One line per right, `RESOURCE PATTERN NAME OPERATION` (what deploy.sh reads to grant them). */
export function formatAclPlan(acls: KafkaAcl[]): string {
  return acls.map((a) => `${a.resource} ${a.pattern} ${a.name} ${a.operation}\n`).join('');
}
