import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatAclPlan, parseConfig } from '@cdc/core';
import { processorConfigSchema } from './config.js';
import { inputSubscription, processorAcls, processorTopics } from './topics.js';

/** The rights of every processor whatever its inputs (group proc, files topic files), as the plan's last lines. */
const filesGroupAndTransactions = ['TOPIC LITERAL files WRITE', 'TOPIC LITERAL files.dlq DESCRIBE', 'GROUP LITERAL proc READ', 'TRANSACTIONAL_ID PREFIXED proc- WRITE', ''];

test("the processor's rights: read its input topics in its group, write their dead-letter topics and the files topic, its transactional ids", () => {
  const config = parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPICS: 'orders-cdc,customers-cdc', PROCESSOR_GROUP_ID: 'proc', PROCESSOR_FILES_TOPIC: 'files' } });
  assert.equal(
    formatAclPlan(processorAcls(config)),
    [
      'TOPIC LITERAL orders-cdc READ',
      'TOPIC LITERAL orders-cdc.dlq WRITE',
      'TOPIC LITERAL customers-cdc READ',
      'TOPIC LITERAL customers-cdc.dlq WRITE',
      ...filesGroupAndTransactions,
    ].join('\n'),
  );
});

test("with a topic template the processor reads every topic it can make, granted by the template's fixed prefix; it creates only the files topic", () => {
  const config = parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPIC_TEMPLATE: 'cdc.{db}.{coll}-changes', PROCESSOR_GROUP_ID: 'proc', PROCESSOR_FILES_TOPIC: 'files' } });
  assert.equal(
    formatAclPlan(processorAcls(config)),
    [
      'TOPIC PREFIXED cdc. READ',
      'TOPIC PREFIXED cdc. WRITE',
      ...filesGroupAndTransactions,
    ].join('\n'),
  );
  assert.deepEqual(processorTopics(config).map((t) => t.topic), ['files', 'files.dlq']);
  const pattern = inputSubscription(config);
  assert.ok(pattern instanceof RegExp);
  for (const topic of ['cdc.shop.orders-changes', 'cdc.shop.orders.2024-changes']) assert.ok(pattern.test(topic), topic);
  for (const topic of ['cdc.shop.orders-changes.dlq', 'files', 'cdc-checkpoints', 'xcdc.shop.orders-changes', 'cdc.shop.orders-changesx']) assert.ok(!pattern.test(topic), topic);
  assert.throws(() => processorAcls(parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPIC_TEMPLATE: '{coll}-cdc' } })), /PROCESSOR_TOPIC_TEMPLATE: must start with fixed text/);
});

test('a topic template whose topics could not be told from dead-letter topics or the files topic fails at start naming the variable', () => {
  for (const template of ['cdc.{db}.{coll}', '{coll}.dlq', '{coll}q', 'cdc.{coll}x{db}', '{coll}-cdc}{']) {
    assert.throws(() => parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPIC_TEMPLATE: template } }), /PROCESSOR_TOPIC_TEMPLATE/, template);
  }
  assert.throws(() => parseConfig(processorConfigSchema, { env: { PROCESSOR_TOPIC_TEMPLATE: '{coll}-files', PROCESSOR_FILES_TOPIC: 'parquet-files' } }), /PROCESSOR_TOPIC_TEMPLATE: matches the files topic parquet-files/);
});
