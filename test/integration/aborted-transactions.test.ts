// Every consumer of a transactional topic in the project, against transactions of several producers left open in
// one partition and aborted out of first-offset order: no aborted record may ever be delivered (kafkajs 2.2.4
// delivered them; see test/support/aborted-transactions.ts).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { encodeChangeEvent, type ChangeEvent } from '@cdc/core';
import { abortOutOfOrder } from '../support/aborted-transactions.js';
import { infra, uniqueName } from '../support/infra.js';
import { readTopic, testKafka } from '../support/kafka.js';
import { cdcEnv, testMongo } from '../support/mongo.js';
import { repoRoot, startService } from '../support/service-process.js';
import { announcedFiles, assertExactlyOnce, createTopic, orderEvent, produce, waitFor, waitForCommittedToEnd } from '../support/processor.js';
import { bqRows, loaderScenario, orderChange, publishFileEvents, table, writeTestFile } from '../support/loader.js';

const kafka = testKafka();
/** the successors fence the third producer first, then the first, then the second */
const FENCE_ORDER = [2, 0, 1];

const record = (event: ChangeEvent) => ({ partition: 0, key: event.document_id, value: encodeChangeEvent(event), event });

describe('aborted transactions fenced out of first-offset order', () => {
  test('processor: no aborted change reaches an announced file', async () => {
    const prefix = uniqueName('abort-proc');
    const topic = `${prefix}-orders-cdc`;
    const group = `${prefix}-group`;
    const filesTopic = `${prefix}-files`;
    const outputDir = join(repoRoot, '.run', 'test-data', prefix);
    await createTopic(kafka, topic, 1);
    const before = await produce(kafka, topic, [1, 2, 3].map((n) => record(orderEvent('insert', n))));
    const aborted = [0, 1, 2].map((k) => [1, 2, 3].map((j) => orderEvent('insert', 100 + 10 * k + j)));
    await abortOutOfOrder(topic, 0, aborted.map((events) => events.map((e) => ({ key: e.document_id, value: encodeChangeEvent(e) }))), FENCE_ORDER);
    const after = await produce(kafka, topic, [4, 5, 6].map((n) => record(orderEvent('update', n))));

    const processor = await startService(
      'processor',
      {
        KAFKA_BROKERS: infra.kafkaBrokers,
        KAFKA_CLIENT_ID: prefix,
        PROCESSOR_TOPICS: topic,
        PROCESSOR_GROUP_ID: group,
        PROCESSOR_FILES_TOPIC: filesTopic,
        PROCESSOR_OUTPUT_DIR: outputDir,
        // Closes the batch soon after the last record (speed only; the exactly-once path is the same).
        PROCESSOR_BATCH_MAX_AGE_MS: '500',
      },
      'processor-aborted',
    );
    try {
      await processor.waitReady();
      await waitForCommittedToEnd(kafka, group, topic);
      const files = await announcedFiles(kafka, filesTopic, 1);
      await assertExactlyOnce(assert, outputDir, files, [...before, ...after]);
    } finally {
      await processor.kill('SIGTERM');
    }
  });

  test('loader: no aborted file-ready event is loaded', async () => {
    const s = loaderScenario('aborted');
    await createTopic(kafka, s.filesTopic, 1);
    const T0 = 1764151872;
    const beforeEvents = [orderChange('insert', 1, { t: T0, i: 1 }, 1), orderChange('insert', 2, { t: T0, i: 2 }, 2)];
    const afterEvents = [orderChange('update', 1, { t: T0 + 1, i: 1 }, 3)];
    const committedBefore = await writeTestFile(s.inputDir, s.topic, 0, 0, beforeEvents);
    const committedAfter = await writeTestFile(s.inputDir, s.topic, 0, 2, afterEvents);
    // Files that exist and would load: only the aborted announcement keeps them out of the warehouse.
    const abortedFiles = await Promise.all([0, 1, 2].map((k) => writeTestFile(s.inputDir, s.topic, 0, 100 + 10 * k, [orderChange('insert', 10 + k, { t: T0 + 2, i: k + 1 }, 100 + k)])));
    await publishFileEvents(kafka, s.filesTopic, [committedBefore]);
    await abortOutOfOrder(s.filesTopic, 0, abortedFiles.map((f) => [{ key: f.key, value: f.value }]), FENCE_ORDER);
    await publishFileEvents(kafka, s.filesTopic, [committedAfter]);

    const loader = await startService('loader', s.env(), 'loader-aborted');
    try {
      await loader.waitReady();
      await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
      const rows = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`);
      const expected = [...beforeEvents, ...afterEvents].map((e) => e.event_id);
      assert.deepEqual(rows.map((r) => String(r.event_id)).sort(), expected.sort(), 'only the committed files are loaded');
    } finally {
      await loader.kill('SIGTERM');
    }
  });

  test('cdc: aborted checkpoints of two streams sharing the checkpoint partition are never resumed from', async () => {
    const mongo = await testMongo();
    const prefix = uniqueName('abort-cdc');
    const db = prefix.replaceAll('-', '_');
    const env = cdcEnv(prefix, db, { CDC_COLLECTIONS: `${db}.orders,${db}.customers` });
    const collections = ['orders', 'customers'].map((name) => mongo.db(db).collection<{ _id: number; n: number }>(name));
    try {
      const first = await startService('cdc', env, 'cdc-aborted-1');
      try {
        await first.waitReady();
        // Streaming starts from "now" (no snapshot): write only once both change streams are open.
        await waitFor('both change streams open', () => first.output.filter((line) => /change stream opened/.test(line)).length >= 2, 30000);
        for (const c of collections) await c.insertMany([1, 2, 3].map((n) => ({ _id: n, n })));
        for (const name of ['orders', 'customers']) await readTopic(kafka, `${prefix}-${name}-cdc`, { minCount: 3 });
      } finally {
        await first.kill('SIGTERM');
      }
      // While the service is down: changes 4-6, then a change whose resume token the aborted checkpoints name. A
      // service resuming from an aborted checkpoint would never publish 4-6.
      const later: Record<string, string> = {};
      for (const [k, c] of collections.entries()) {
        await c.insertMany([4, 5, 6].map((n) => ({ _id: n, n })));
        const stream = c.watch([], { maxAwaitTimeMS: 200 });
        await stream.tryNext(); // opens the cursor; watch() is lazy
        await c.insertOne({ _id: 7, n: 7 });
        later[['orders', 'customers'][k]!] = ((await stream.next())._id as { _data: string })._data;
        await stream.close();
      }
      const abortedCheckpoint = (stream: string) => ({
        key: `${db}.${stream}`,
        value: JSON.stringify({ version: 1, phase: 'stream', resume_token: later[stream], start_at: null, updated_at: new Date().toISOString() }),
      });
      await abortOutOfOrder(env.CDC_CHECKPOINT_TOPIC!, 0, [0, 1, 2].map(() => [abortedCheckpoint('orders'), abortedCheckpoint('customers')]), FENCE_ORDER);

      const second = await startService('cdc', env, 'cdc-aborted-2');
      try {
        await second.waitReady();
        for (const name of ['orders', 'customers']) {
          const messages = await readTopic(kafka, `${prefix}-${name}-cdc`, { minCount: 7, timeoutMs: 30000 });
          const ids = messages.map((m) => JSON.parse(String(m.value)) as ChangeEvent).map((e) => Number(JSON.parse(e.document_id).$numberInt));
          assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7], `${name}: every change once, none skipped`);
        }
      } finally {
        await second.kill('SIGTERM');
      }
    } finally {
      await mongo.close();
    }
  });
});
