import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger, FatalError, topicWithDeadLetter, type Admin, type TopicSettings } from '@cdc/core';
import { scopeTopicMaker } from './scope-topics.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const settings: TopicSettings = {
  KAFKA_TOPIC_PARTITIONS: 6,
  KAFKA_REPLICATION_FACTOR: 1,
  KAFKA_CDC_TOPIC_RETENTION_MS: 1000,
  KAFKA_FILES_TOPIC_RETENTION_MS: 1000,
  KAFKA_DLQ_TOPIC_RETENTION_MS: 2000,
  KAFKA_MAX_MESSAGE_BYTES: 5000,
};

/** A broker's topic list; `createdMeanwhile` appear as another instance's, refused when this one creates them too. */
function fakeAdmin(existing: string[], createdMeanwhile: string[] = []) {
  const topics = new Set(existing);
  const requests: { topic: string; numPartitions: number; configEntries: { name: string; value: string }[] }[][] = [];
  const admin = {
    listTopics: async () => [...topics],
    createTopics: async ({ topics: asked }: { topics: (typeof requests)[number] }) => {
      requests.push(asked);
      for (const name of createdMeanwhile) topics.add(name);
      const refused = asked.filter((t) => topics.has(t.topic));
      for (const t of asked) topics.add(t.topic);
      if (refused.length > 0) throw Object.assign(new Error('Topic already exists'), { errors: refused.map((t) => ({ topic: t.topic, message: 'Topic already exists' })) });
      return true;
    },
  };
  return { admin: admin as unknown as Admin, topics, requests };
}

const makerOf = (admin: Admin, made: string[] = []) =>
  scopeTopicMaker({ admin, specsOf: (topic) => topicWithDeadLetter(topic, 'cdc', settings), attempts: 1, logger, made: (topic) => made.push(topic) });

test("51 collections' topics: the missing ones (and their dead-letter topics) in one request, the existing ones left, the same configuration", async () => {
  const names = Array.from({ length: 51 }, (_, i) => `c${String(i).padStart(2, '0')}-cdc`);
  const { admin, topics, requests } = fakeAdmin(['c00-cdc', 'c00-cdc.dlq', 'c01-cdc']);
  const made: string[] = [];
  await makerOf(admin, made)(names);
  assert.equal(requests.length, 1, 'one createTopics');
  assert.equal(requests[0]!.length, 51 * 2 - 3);
  assert.ok(!requests[0]!.some((t) => ['c00-cdc', 'c00-cdc.dlq', 'c01-cdc'].includes(t.topic)), 'existing topics not asked for');
  const c07 = requests[0]!.find((t) => t.topic === 'c07-cdc')!;
  assert.deepEqual([c07.numPartitions, c07.configEntries], [6, [{ name: 'retention.ms', value: '1000' }, { name: 'max.message.bytes', value: '5000' }]]);
  assert.equal(requests[0]!.find((t) => t.topic === 'c07-cdc.dlq')!.numPartitions, 1);
  for (const name of names) assert.ok(topics.has(name) && topics.has(`${name}.dlq`), name);
  assert.deepEqual(made, names);
});

test('made once per process; topics another instance made between the listing and the request are no error', async () => {
  const { admin, requests } = fakeAdmin([], ['b-cdc']);
  const ensure = makerOf(admin);
  await ensure(['a-cdc', 'b-cdc', 'a-cdc']);
  await ensure(['b-cdc', 'a-cdc']);
  assert.equal(requests.length, 1);
  assert.deepEqual(requests[0]!.map((t) => t.topic), ['a-cdc', 'a-cdc.dlq', 'b-cdc', 'b-cdc.dlq']);
});

test('a collection whose topic would be no Kafka topic name stops the start before any topic is made, naming CDC_TOPIC_TEMPLATE', async () => {
  const { admin, requests } = fakeAdmin([]);
  await assert.rejects(makerOf(admin)(['fine-cdc', 'not fine-cdc']), (error: unknown) => error instanceof FatalError && /"not fine-cdc".*CDC_TOPIC_TEMPLATE/.test(error.message));
  assert.equal(requests.length, 0);
});
