// Documents near MongoDB's 16 MiB limit, with pre-images on, through the whole pipeline as real processes with
// their shipped size limits (cdc -> Kafka -> processor -> Parquet -> loader -> BigQuery emulator): a 15 MiB
// document inserted, updated and replaced lands in the changes table, the current-state table and the typed
// view byte for byte. The update's event carries the document three times (after, before, updated fields): ~45 MiB.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { MongoClient } from 'mongodb';
import { fromCanonicalJson } from '@cdc/core';
import { typedViewNames } from '@cdc/core/gcp';
import { readTopic, testKafka, waitForCommittedToEnd } from '../support/kafka.js';
import { cdcEnv, testMongo } from '../support/mongo.js';
import { metricValue, startService, type ServiceProcess } from '../support/service-process.js';
import { bqRows, loaderScenario, pipelineProcessorEnv, table, type LoaderScenario } from '../support/loader.js';
import { uniqueName } from '../support/infra.js';
import { createTopic } from '../support/processor.js';
import { waitFor } from '../support/wait.js';

const MiB = 1024 * 1024;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
/** 15 MiB of text that JSON has to escape here and there (quotes, backslashes, a newline, non-ASCII). */
const bigText = (tag: string) => `${tag} "quoted" \\ é 🚚\n${randomBytes(Math.ceil((15 * MiB * 3) / 4)).toString('base64').slice(0, 15 * MiB)}`;

const kafka = testKafka();

describe('documents up to MongoDB 16 MiB limit, with pre-images', () => {
  let s: LoaderScenario;
  let mongo: MongoClient;
  let cdc: ServiceProcess;
  const services: ServiceProcess[] = [];

  before(async () => {
    mongo = await testMongo();
    s = loaderScenario('big');
    const loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '1' }), 'loader-big');
    services.push(loader);
    const processor = await startService('processor', pipelineProcessorEnv(s, 2), 'processor-big');
    services.push(processor);
    await Promise.all([loader.waitReady(), processor.waitReady()]);
    // What real MongoDB needs for pre-images (the stand-in records them for every collection).
    await mongo.db(s.dataset).createCollection('orders', { changeStreamPreAndPostImages: { enabled: true } });
    cdc = await startService('cdc', cdcEnv(s.prefix, s.dataset, { KAFKA_CLIENT_ID: `${s.prefix}-cdc`, KAFKA_TOPIC_PARTITIONS: '2', CDC_FULL_DOCUMENT_BEFORE_CHANGE: 'whenAvailable' }), 'cdc-big');
    services.push(cdc);
    await cdc.waitReady();
    await cdc.waitForLog(/change stream opened/);
  });
  after(async () => {
    for (const service of services) service.kill('SIGTERM');
    await Promise.all(services.map((service) => service.exited));
    await mongo?.close();
  });

  test('a 15 MiB document inserted, updated and replaced reaches both tables and the typed view byte for byte', async () => {
    const [a, b, c] = [bigText('a'), bigText('b'), bigText('c')];
    const orders = mongo.db(s.dataset).collection<{ _id: number; status: string; big: string }>('orders');
    await orders.insertOne({ _id: 1, status: 'new', big: a });
    await orders.updateOne({ _id: 1 }, { $set: { status: 'paid', big: b } });
    const changes = table(s.gcpConfig, 'orders_changes');
    const changeRows = (count: number) =>
      waitFor(
        `${count} changes of the 15 MiB document in orders_changes`,
        async () => {
          const found = await bqRows(s.gcpConfig, `SELECT op, document, document_before, update_description FROM ${changes} ORDER BY cluster_time, cluster_time_increment`);
          return found.length >= count ? found : null;
        },
        300_000,
        2000,
      );
    // The update's full document is looked up when the cdc reads the event (fullDocument updateLookup, as on
    // MongoDB): replacing before it was read would rightly show the replacement there.
    await changeRows(2);
    await orders.replaceOne({ _id: 1 }, { status: 'replaced', big: c });
    const rows = await changeRows(3);
    const bigOf = (json: unknown) => (json === null ? null : (fromCanonicalJson(String(json)) as { big?: string }).big ?? null);
    const hashOf = (value: string | null) => (value === null ? null : sha256(value));
    assert.deepEqual(
      rows.map((row) => ({ op: row.op, after: hashOf(bigOf(row.document)), before: hashOf(bigOf(row.document_before)) })),
      [
        { op: 'insert', after: sha256(a), before: null },
        { op: 'update', after: sha256(b), before: sha256(a) },
        { op: 'replace', after: sha256(c), before: sha256(b) },
      ],
    );
    const updated = JSON.parse(String(rows[1]!.update_description)) as { updated_fields: string };
    assert.equal(hashOf(bigOf(updated.updated_fields)), sha256(b), 'the update description carries the new 15 MiB value');

    const current = await waitFor(
      'the replaced document in orders_current',
      async () => {
        const found = await bqRows(s.gcpConfig, `SELECT op, document FROM ${table(s.gcpConfig, 'orders_current')}`);
        return found.length === 1 && found[0]!.op === 'replace' ? found : null;
      },
      120_000,
      2000,
    );
    assert.equal(hashOf(bigOf(current[0]!.document)), sha256(c));
    const view = await bqRows(s.gcpConfig, `SELECT status, big FROM ${table(s.gcpConfig, typedViewNames('orders').current)}`);
    assert.equal(view.length, 1);
    assert.equal(view[0]!.status, 'replaced');
    assert.equal(hashOf(String(view[0]!.big)), sha256(c), 'the typed view gives the 15 MiB field as it was written');

    // Nothing of it was dead-lettered on the way.
    await waitForCommittedToEnd(kafka, `${s.prefix}-processor`, s.topic);
    const metrics = await cdc.metrics();
    assert.equal(metricValue(metrics, 'cdc_events_published_total'), 3);
    assert.equal(metricValue(metrics, 'cdc_dead_letters_total'), 0);
  });

  test('an event over CDC_MAX_MESSAGE_BYTES (64 MiB) is dead-lettered with its reason, size and resume token; later changes flow', async () => {
    const orders = mongo.db(s.dataset).collection<{ _id: number; status: string; quotes?: string }>('orders');
    await orders.insertOne({ _id: 2, status: 'new' });
    // 10 MiB of double quotes: each is escaped twice (Extended JSON, then the envelope), and the update event holds
    // the value twice (document and updated fields): an event of ~80 MiB from a 10 MiB document.
    await orders.updateOne({ _id: 2 }, { $set: { quotes: '"'.repeat(10 * MiB) } });
    // (the next update waits for the dead letter: updateLookup reads the document as it is when the event is read)
    const [letter] = await readTopic(kafka, `${s.topic}.dlq`, { minCount: 1 });
    await orders.updateOne({ _id: 2 }, { $set: { status: 'after' }, $unset: { quotes: '' } });

    const dead = JSON.parse(String(letter!.value)) as Record<string, unknown>;
    assert.equal(dead.reason, 'oversize');
    assert.equal(String(letter!.headers?.reason), 'oversize');
    assert.equal(dead.document_id, '{"$numberInt":"2"}');
    assert.equal(dead.op, 'update');
    assert.match(String(dead.error), /exceeds CDC_MAX_MESSAGE_BYTES=67108864/);
    assert.ok(Number(dead.size_bytes) > 64 * MiB, `size_bytes ${String(dead.size_bytes)}`);
    assert.equal(typeof dead.resume_token, 'string');
    assert.ok(String(letter!.value).length < 4096, 'the dead letter carries ids, not the document');

    // The insert before it and the update after it reach BigQuery; the dead-lettered update does not.
    const ops = await waitFor(
      'the insert and the later update of document 2 in orders_changes',
      async () => {
        const found = await bqRows(s.gcpConfig, `SELECT op, document FROM ${table(s.gcpConfig, 'orders_changes')} WHERE document_id = '{"$numberInt":"2"}' ORDER BY cluster_time, cluster_time_increment`);
        return found.length >= 2 ? found : null;
      },
      120_000,
      2000,
    );
    assert.deepEqual(ops.map((row) => [row.op, (fromCanonicalJson(String(row.document)) as { status: string }).status]), [['insert', 'new'], ['update', 'after']]);
    assert.equal(metricValue(await cdc.metrics(), 'cdc_dead_letters_total', { reason: 'oversize' }), 1);
  });
});

test('a CDC topic created earlier with a smaller max.message.bytes: the cdc says which settings to change and keeps retrying', async () => {
  const prefix = uniqueName('big-old-topic');
  const db = prefix.replaceAll('-', '_');
  // As a topic made before KAFKA_MAX_MESSAGE_BYTES was set on it: the broker's old default, 1 MB.
  await createTopic(kafka, `${prefix}-orders-cdc`, 1, { 'max.message.bytes': '1048588' });
  const mongo = await testMongo();
  const cdc = await startService('cdc', cdcEnv(prefix, db, { KAFKA_TOPIC_PARTITIONS: '1' }), 'cdc-big-old-topic');
  try {
    await cdc.waitReady();
    await cdc.waitForLog(/change stream opened/);
    await mongo.db(db).collection('orders').insertOne({ _id: 1 as never, big: 'x'.repeat(2 * MiB) });
    const line = await cdc.waitForLog(/Kafka refused a record of \d+ bytes as too large/, 60_000);
    assert.match(line, /max\.message\.bytes to KAFKA_MAX_MESSAGE_BYTES=68157440/);
    assert.match(line, /or lower CDC_MAX_MESSAGE_BYTES/);
    assert.equal(metricValue(await cdc.metrics(), 'cdc_events_published_total'), 0);
    assert.equal(cdc.child.exitCode, null, 'the cdc keeps retrying (no restart needed once the topic is altered)');
  } finally {
    await cdc.kill('SIGTERM');
    await mongo.close();
  }
});

test('CDC_SPLIT_LARGE_EVENTS=false: an event over 16 MiB of BSON (MongoDB: BSONObjectTooLarge) stops the cdc with what to do', async () => {
  const prefix = uniqueName('big-nosplit');
  const db = prefix.replaceAll('-', '_');
  const mongo = await testMongo();
  const cdc = await startService('cdc', cdcEnv(prefix, db, { KAFKA_TOPIC_PARTITIONS: '1', CDC_SPLIT_LARGE_EVENTS: 'false', CDC_FULL_DOCUMENT_BEFORE_CHANGE: 'whenAvailable' }), 'cdc-big-nosplit');
  try {
    await cdc.waitReady();
    await cdc.waitForLog(/change stream opened/);
    const orders = mongo.db(db).collection<{ _id: number; big: string }>('orders');
    await orders.insertOne({ _id: 1, big: 'a'.repeat(9 * MiB) });
    // after + before: ~18 MiB of BSON
    await orders.updateOne({ _id: 1 }, { $set: { big: 'b'.repeat(9 * MiB) } });
    const code = await Promise.race([cdc.exited, new Promise<'running'>((resolve) => setTimeout(() => resolve('running'), 60_000))]);
    assert.notEqual(code, 'running', 'the cdc stops instead of restarting into the same event');
    assert.notEqual(code, 0);
    const output = cdc.output.join('\n');
    assert.match(output, /MongoDB refused to return a change event larger than 16 MiB \(BSONObjectTooLarge/);
    assert.match(output, /Set CDC_SPLIT_LARGE_EVENTS=true/);
    assert.match(output, /CDC_FULL_DOCUMENT_BEFORE_CHANGE=off/);
    // The insert before it was published.
    const [insert] = await readTopic(kafka, `${prefix}-orders-cdc`, { minCount: 1 });
    assert.equal(JSON.parse(String(insert!.value)).op, 'insert');
  } finally {
    await cdc.kill('SIGTERM');
    await mongo.close();
  }
});
