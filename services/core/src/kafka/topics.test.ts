import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTopicPlan, topicWithDeadLetter, type TopicSettings } from './topics.js';

const settings: TopicSettings = {
  KAFKA_TOPIC_PARTITIONS: 6,
  KAFKA_REPLICATION_FACTOR: 3,
  KAFKA_CDC_TOPIC_RETENTION_MS: 1000,
  KAFKA_FILES_TOPIC_RETENTION_MS: 2000,
  KAFKA_DLQ_TOPIC_RETENTION_MS: -1,
  KAFKA_MAX_MESSAGE_BYTES: 5000,
};

test('a data topic comes with its dead-letter topic: one partition, the dead-letter retention; a CDC topic takes KAFKA_MAX_MESSAGE_BYTES records', () => {
  assert.deepEqual(topicWithDeadLetter('orders-cdc', 'cdc', settings), [
    { topic: 'orders-cdc', numPartitions: 6, replicationFactor: 3, config: { 'retention.ms': '1000', 'max.message.bytes': '5000' } },
    { topic: 'orders-cdc.dlq', numPartitions: 1, replicationFactor: 3, config: { 'retention.ms': '-1' } },
  ]);
  assert.deepEqual(topicWithDeadLetter('parquet-files', 'files', settings)[0]?.config, { 'retention.ms': '2000' });
});

test('the topic plan deploy.sh reads: NAME PARTITIONS REPLICATION CONFIGS per line, - for none', () => {
  const plan = formatTopicPlan([
    { topic: 'cdc-checkpoints', numPartitions: 1, replicationFactor: 1, config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' } },
    { topic: 'plain', numPartitions: 2, replicationFactor: 1 },
  ]);
  assert.equal(plan, 'cdc-checkpoints 1 1 cleanup.policy=compact,min.compaction.lag.ms=60000\nplain 2 1 -\n');
});
