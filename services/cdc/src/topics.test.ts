import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAclPlan, parseConfig } from '@cdc/core';
import { cdcConfigSchema } from './config.js';
import { cdcAcls, cdcTopics } from './topics.js';

test('the CDC topics: per collection its topic and dead-letter topic (once per topic), then the checkpoint topic', () => {
  const config = parseConfig(cdcConfigSchema, {
    env: { MONGO_URI: 'mongodb://h:27017', CDC_COLLECTIONS: 'shop.orders,crm.orders,shop.customers', CDC_TOPIC_TEMPLATE: '{coll}-cdc' },
  });
  assert.deepEqual(
    cdcTopics(config).map((t) => `${t.topic}/${t.numPartitions}`),
    ['orders-cdc/6', 'orders-cdc.dlq/1', 'customers-cdc/6', 'customers-cdc.dlq/1', 'cdc-checkpoints/1'],
  );
  assert.deepEqual(cdcTopics(config, ['shop.customers']).map((t) => t.topic), ['customers-cdc', 'customers-cdc.dlq', 'cdc-checkpoints']);
  assert.equal(cdcTopics(config).at(-1)?.config?.['cleanup.policy'], 'compact');
});

/** The rights of every cdc whatever its scope (client id cdc-a), as the plan's last lines. */
const checkpointsAndTransactions = ['TOPIC LITERAL cdc-checkpoints WRITE', 'TOPIC LITERAL cdc-checkpoints READ', 'GROUP PREFIXED cdc-checkpoint-reader- READ', 'TRANSACTIONAL_ID PREFIXED cdc-a- WRITE', ''];

test("the cdc's rights: write its change and dead-letter topics, write and read the checkpoint topic, its own groups and transactional ids", () => {
  const config = parseConfig(cdcConfigSchema, {
    env: { MONGO_URI: 'mongodb://h:27017', CDC_COLLECTIONS: 'shop.orders,crm.orders', CDC_TOPIC_TEMPLATE: '{coll}-cdc', KAFKA_CLIENT_ID: 'cdc-a' },
  });
  assert.equal(
    formatAclPlan(cdcAcls(config)),
    [
      'TOPIC LITERAL orders-cdc WRITE',
      'TOPIC LITERAL orders-cdc.dlq WRITE',
      ...checkpointsAndTransactions,
    ].join('\n'),
  );
});

test("a database or deployment scope's change topics are granted by the template's fixed prefix (write, create), never all topics", () => {
  const env = { MONGO_URI: 'mongodb://h:27017', CDC_CAPTURE_SCOPE: 'database', CDC_TOPIC_TEMPLATE: 'cdc.{db}.{coll}-changes', KAFKA_CLIENT_ID: 'cdc-a' };
  assert.equal(
    formatAclPlan(cdcAcls(parseConfig(cdcConfigSchema, { env }))),
    [
      'TOPIC PREFIXED cdc. WRITE',
      'TOPIC PREFIXED cdc. CREATE',
      ...checkpointsAndTransactions,
    ].join('\n'),
  );
  // the default template starts with a placeholder: a prefix grant would cover every topic of the cluster
  assert.throws(() => cdcAcls(parseConfig(cdcConfigSchema, { env: { ...env, CDC_CAPTURE_SCOPE: 'deployment', CDC_TOPIC_TEMPLATE: '{coll}-cdc' } })), /CDC_TOPIC_TEMPLATE: must start with fixed text/);
});
