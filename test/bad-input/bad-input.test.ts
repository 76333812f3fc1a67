// Bad input at every stage of the pipeline, each case with its expected outcome: a dead-letter record naming the
// reason, a quarantined file, or a clear start-up error with a non-zero exit. Nothing is lost and nothing
// crash-loops: the service that saw the bad input keeps running, and good input after it still flows.
// One running service per stage; the cases are tables, each case one test.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { BSON, ChangeEventSchema, decodeSnapshotComplete, encodeChangeEvent, eventIdFromResumeToken, fileChecksums, fromCanonicalJson, DOCUMENT_OPERATIONS, type ChangeEvent } from '@cdc/core';
import { infra, uniqueName } from '../support/infra.js';
import { readTopic, testKafka, type ReadMessage } from '../support/kafka.js';
import { cdcEnv, testMongo } from '../support/mongo.js';
import { startPrivateMongo, type PrivateMongo } from '../support/private-mongo.js';
import { metricValue, repoRoot, startService, type ServiceProcess } from '../support/service-process.js';
import { announcedFiles, assertExactlyOnce, createTopic, orderEvent, produce, readParquet, waitForCommittedToEnd, type Produced } from '../support/processor.js';
import { startBucketRefusingProxy } from '../support/gcs-owner-proxy.js';
import { bqRows, loaderScenario, orderChange, publishFileEvents, runCli, table, testGcp, writeTestFile, type WrittenTestFile } from '../support/loader.js';

const { Decimal128, Int32 } = BSON;
const kafka = testKafka();
const T0 = 1764151872;
/** Services expected to run ride out a restart of the shared broker (other suites restart it) instead of failing to start. */
const SHARED_BROKER_RETRIES = '20';

/** Dead-letter records of a topic by record key, value parsed. */
async function deadLettersByKey(topic: string, minCount: number): Promise<Map<string, { value: Record<string, unknown>; headers: ReadMessage['headers'] }>> {
  const messages = await readTopic(kafka, topic, { minCount, quietMs: 1000 });
  return new Map(messages.map((m) => [String(m.key), { value: JSON.parse(String(m.value)) as Record<string, unknown>, headers: m.headers }]));
}

/** `{"d":{"d":...leaf...}}`, `levels` objects deep. */
const nestedJson = (levels: number, leaf: string) => '{"d":'.repeat(levels) + leaf + '}'.repeat(levels);
const depthOf = (value: unknown): number => {
  let depth = 0;
  for (let v = value as { d?: unknown } | undefined; v && typeof v === 'object' && 'd' in v; v = v.d as { d?: unknown }) depth++;
  return depth;
};

/** The exit code, when the process ends within `ms`; a hang fails the case (and the process is killed). */
async function exitWithin(service: ServiceProcess, ms = 60000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      void service.kill('SIGKILL');
      reject(new Error(`${service.name} still running after ${ms} ms (log: ${service.logFile})`));
    }, ms);
  });
  try {
    return await Promise.race([service.exited, hang]);
  } finally {
    clearTimeout(timer);
  }
}

const stillRunning = (service: ServiceProcess) => {
  assert.equal(service.child.exitCode, null, `${service.name} is still running`);
  assert.equal(service.child.signalCode, null, `${service.name} is still running`);
  // (an error the Kafka client recovers from, e.g. while the broker is away, is not one: the group is rejoined)
  assert.ok(!service.output.some((line) => /"level":60|unhandled rejection|giving up/.test(line)), `${service.name} logged no fatal error (log: ${service.logFile})`);
};

// ------------------------------------------------------------------------------------------------------------------
// Processor: raw bytes on its input topic. A record that is not a valid envelope goes to `<topic>.dlq` (reason and
// original bytes) in the transaction that commits past it; the records around it are written to Parquet.

type EnvelopeReason = 'not_json' | 'unknown_schema_version' | 'invalid_envelope';

interface PoisonCase {
  name: string;
  value: Buffer | null;
  /** dead-lettered with this reason, the error matching; or written as a row (the envelope is valid) */
  expect: { reason: EnvelopeReason; error: RegExp } | { row: (document: string) => void };
  event?: ChangeEvent;
}

const envelopeText = (n: number, patch: Record<string, unknown> = {}) => JSON.stringify({ ...orderEvent('insert', n), ...patch });
const envelopeWithout = (n: number, ...fields: string[]) => {
  const event: Record<string, unknown> = { ...orderEvent('insert', n) };
  for (const field of fields) delete event[field];
  return Buffer.from(JSON.stringify(event));
};
/** The text with `marker` replaced by raw bytes. */
const withRawBytes = (text: string, marker: string, bytes: number[]) => {
  const at = text.indexOf(marker);
  return Buffer.concat([Buffer.from(text.slice(0, at)), Buffer.from(bytes), Buffer.from(text.slice(at + marker.length))]);
};
const deepDocument = `{"_id":{"$numberInt":"716"},"deep":${nestedJson(150, '{"$numberInt":"1"}')}}`;
const deepDocumentEvent: ChangeEvent = { ...orderEvent('insert', 716), document: deepDocument };

const POISON: PoisonCase[] = [
  { name: '1a invalid JSON (truncated envelope)', value: Buffer.from(envelopeText(501).slice(0, 60)), expect: { reason: 'not_json', error: /not JSON/ } },
  { name: '1b invalid JSON (plain text)', value: Buffer.from('order 42 paid'), expect: { reason: 'not_json', error: /not JSON/ } },
  { name: '2a unknown schema_version 2', value: Buffer.from(envelopeText(502, { schema_version: 2 })), expect: { reason: 'unknown_schema_version', error: /schema_version 2/ } },
  { name: '2b schema_version missing', value: envelopeWithout(503, 'schema_version'), expect: { reason: 'unknown_schema_version', error: /schema_version undefined/ } },
  { name: '2c schema_version "1" as a string', value: Buffer.from(envelopeText(504, { schema_version: '1' })), expect: { reason: 'unknown_schema_version', error: /schema_version "1"/ } },
  { name: '2d a JSON array instead of an envelope', value: Buffer.from('[1,2,3]'), expect: { reason: 'unknown_schema_version', error: /schema_version undefined/ } },
  {
    name: '3a envelope missing required fields (event_id, cluster_time, source)',
    value: envelopeWithout(505, 'event_id', 'cluster_time', 'source'),
    expect: { reason: 'invalid_envelope', error: /event_id: .*cluster_time: .*source: / },
  },
  {
    name: '3b envelope fields of the wrong type (op, cluster_time.t, source.snapshot)',
    value: Buffer.from(envelopeText(506, { op: 'upsert', cluster_time: { t: 'soon', i: 1 }, source: { instance: 'cdc-0', snapshot: 'yes' } })),
    expect: { reason: 'invalid_envelope', error: /op: .*cluster_time\.t: .*source\.snapshot: / },
  },
  { name: '3c wall_time that is not a date', value: Buffer.from(envelopeText(507, { wall_time: 'yesterday' })), expect: { reason: 'invalid_envelope', error: /wall_time: / } },
  { name: '4a NaN literal', value: Buffer.from(envelopeText(508).replace(/"t":\d+/, '"t":NaN')), expect: { reason: 'not_json', error: /not JSON/ } },
  { name: '4b -Infinity literal', value: Buffer.from(envelopeText(509).replace(/"i":\d+/, '"i":-Infinity')), expect: { reason: 'not_json', error: /not JSON/ } },
  { name: '4c number that overflows to Infinity (1e999)', value: Buffer.from(envelopeText(510).replace(/"t":\d+/, '"t":1e999')), expect: { reason: 'invalid_envelope', error: /cluster_time\.t: / } },
  {
    name: '5 invalid UTF-8 bytes inside the document string',
    value: withRawBytes(envelopeText(511, { document: '{"name":"caf@@"}' }), '@@', [0xc3, 0x28, 0xff]),
    expect: { reason: 'not_json', error: /UTF-8/ },
  },
  { name: '6a null value (tombstone)', value: null, expect: { reason: 'not_json', error: /no value/ } },
  { name: '6b empty value (0 bytes)', value: Buffer.alloc(0), expect: { reason: 'not_json', error: /not JSON/ } },
  {
    // The envelope is flat: `document` is a string the processor does not parse, so its depth is no concern here
    // (MongoDB itself refuses documents deeper than 100 levels); the row keeps the string as it came.
    name: '7a document string holding JSON nested 150 levels: written unchanged',
    value: Buffer.from(encodeChangeEvent(deepDocumentEvent)),
    event: deepDocumentEvent,
    expect: { row: (document) => assert.equal(document, deepDocument) },
  },
  {
    name: '7b document as a nested object (150 levels) instead of a string',
    value: Buffer.from(envelopeText(517, { document: JSON.parse(nestedJson(150, '1')) })),
    expect: { reason: 'invalid_envelope', error: /document: / },
  },
  { name: '7c the whole value nested 100000 levels deep', value: Buffer.from('['.repeat(100000) + ']'.repeat(100000)), expect: { reason: 'unknown_schema_version', error: /schema_version undefined/ } },
];

describe('processor: poison records', () => {
  const prefix = uniqueName('bad-proc');
  const topic = `${prefix}-orders-cdc`;
  const group = `${prefix}-processor`;
  const filesTopic = `${prefix}-files`;
  const outputDir = join(repoRoot, '.run', 'test-data', prefix);
  const poisonKey = (index: number) => `case-${index}`;
  let processor: ServiceProcess;
  let produced: Produced[] = [];
  let deadLetters: Awaited<ReturnType<typeof deadLettersByKey>>;
  let documentAt: Map<number, string>;
  let next = 1;
  const good = () => {
    const event = orderEvent(DOCUMENT_OPERATIONS[next % DOCUMENT_OPERATIONS.length]!, next++);
    return { partition: 0, key: event.document_id, value: encodeChangeEvent(event), event };
  };

  before(async () => {
    await createTopic(kafka, topic, 1);
    // good, poison, good, poison, ... good: every poison record is followed by one that must still be written.
    const records = [good(), ...POISON.flatMap((c, i) => [{ partition: 0, key: poisonKey(i), value: c.value as Buffer, ...(c.event ? { event: c.event } : {}) }, good()])];
    produced = await produce(kafka, topic, records);
    processor = await startService(
      'processor',
      {
        KAFKA_BROKERS: infra.kafkaBrokers,
        KAFKA_CLIENT_ID: prefix,
        KAFKA_TOPIC_PARTITIONS: '1',
        PROCESSOR_TOPICS: topic,
        PROCESSOR_GROUP_ID: group,
        PROCESSOR_FILES_TOPIC: filesTopic,
        PROCESSOR_OUTPUT_DIR: outputDir,
        PROCESSOR_BATCH_MAX_AGE_MS: '300',
        PROCESSOR_SESSION_TIMEOUT_MS: '6000',
        KAFKA_CONNECT_RETRIES: SHARED_BROKER_RETRIES,
      },
      'bad-input-processor',
    );
    await processor.waitReady();
    await waitForCommittedToEnd(kafka, group, topic);
    // Input after all of it still flows.
    produced.push(...(await produce(kafka, topic, [good()])));
    await waitForCommittedToEnd(kafka, group, topic);
    deadLetters = await deadLettersByKey(`${topic}.dlq`, POISON.filter((c) => 'reason' in c.expect).length);
    const files = await announcedFiles(kafka, filesTopic);
    const { rows } = await readParquet(
      files.map((f) => join(outputDir, f.path)),
      'kafka_offset, document',
    );
    documentAt = new Map(rows.map((r) => [Number(r.kafka_offset), String(r.document)]));
  });
  after(() => processor?.kill());

  POISON.forEach((c, index) => {
    test(c.name, () => {
      const record = produced.find((p) => p.key === poisonKey(index))!;
      const letter = deadLetters.get(poisonKey(index));
      if ('row' in c.expect) {
        assert.equal(letter, undefined, 'not dead-lettered');
        assert.ok(documentAt.has(record.offset), 'written to Parquet');
        c.expect.row(documentAt.get(record.offset)!);
        return;
      }
      assert.ok(letter, `dead-lettered on ${topic}.dlq`);
      assert.ok(!documentAt.has(record.offset), 'not written to Parquet');
      assert.equal(letter.value.reason, c.expect.reason);
      assert.equal(String(letter.headers?.reason), c.expect.reason, 'reason header');
      assert.match(String(letter.value.error), c.expect.error);
      assert.equal(letter.value.source_topic, topic);
      assert.equal(letter.value.source_offset, record.offset);
      if (c.value === null) assert.equal(letter.value.value_base64, null);
      else assert.deepEqual(Buffer.from(String(letter.value.value_base64), 'base64'), c.value, 'original bytes kept');
      assert.equal(letter.value.value_truncated, false);
    });
  });

  test('every good record (including the one sent after all poison) is in exactly one announced file; the processor keeps running', async () => {
    const files = await announcedFiles(kafka, filesTopic);
    await assertExactlyOnce(
      assert,
      outputDir,
      files,
      produced.filter((p) => p.event !== null),
    );
    const poisoned = POISON.filter((c) => 'reason' in c.expect).length;
    assert.equal(deadLetters.size, poisoned, 'one dead letter per poison record, no more');
    assert.equal(files.reduce((sum, f) => sum + f.dead_letters, 0), poisoned, 'the file-ready events count the dead letters');
    assert.equal(metricValue(await processor.metrics(), 'processor_dead_letters_total'), poisoned);
    stillRunning(processor);
  });
});

// ------------------------------------------------------------------------------------------------------------------
// CDC: documents the pipeline must carry or set aside, and the end of a change stream. One service, one collection.

describe('cdc: bad documents and a dropped collection', () => {
  const prefix = uniqueName('bad-cdc');
  const db = prefix.replaceAll('-', '_');
  const topic = `${prefix}-orders-cdc`;
  const env = cdcEnv(prefix, db, {
    KAFKA_TOPIC_PARTITIONS: '1',
    KAFKA_CONNECT_RETRIES: SHARED_BROKER_RETRIES,
    CDC_MAX_MESSAGE_BYTES: '4000',
    // Long enough that the last insert and the drop fall into one batch.
    CDC_BATCH_MAX_WAIT_MS: '1000',
  });
  const dotted = { _id: 9, 'a.b': 'dotted', $price: Decimal128.fromString('9.99'), nested: { 'x.y': new Int32(1), $z: ['$', '.'] }, 'with space': true };
  const deep = JSON.parse(nestedJson(150, '1')) as unknown;
  let mongo: MongoClient;
  let cdc: ServiceProcess;
  let beforeDrop: ChangeEvent[] = [];
  let deadLetters: Awaited<ReturnType<typeof deadLettersByKey>>;
  const eventOf = (events: ChangeEvent[], id: number) => events.find((e) => e.document_id === `{"$numberInt":"${id}"}`);

  before(async () => {
    mongo = await testMongo();
    cdc = await startService('cdc', env, 'bad-input-cdc');
    await cdc.waitReady();
    await cdc.waitForLog(/change stream opened/);
    const orders = mongo.db(db).collection('orders');
    await orders.insertOne({ _id: 1 as never, phase: 'before' });
    await orders.insertOne({ _id: 8 as never, blob: 'x'.repeat(8000) });
    await orders.insertOne(dotted as never);
    await orders.insertOne({ _id: 10 as never, deep } as never);
    await orders.insertOne({ _id: 2 as never, phase: 'after' });
    beforeDrop = (await readTopic(kafka, topic, { minCount: 4 })).map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));
    deadLetters = await deadLettersByKey(`${topic}.dlq`, 1);
  });
  after(async () => {
    await cdc?.kill();
    await mongo?.close();
  });

  test('8 oversized document: dead letter "oversize" with document key and resume token; the next change is published', () => {
    const letter = deadLetters.get('{"$numberInt":"8"}');
    assert.ok(letter, `dead-lettered on ${topic}.dlq`);
    assert.equal(letter.value.reason, 'oversize');
    assert.equal(String(letter.headers?.reason), 'oversize');
    assert.equal(letter.value.document_id, '{"$numberInt":"8"}');
    assert.equal(letter.value.op, 'insert');
    assert.match(String(letter.value.error), /exceeds CDC_MAX_MESSAGE_BYTES=4000/);
    assert.ok(Number(letter.value.size_bytes) > 8000);
    assert.equal(typeof letter.value.resume_token, 'string', 'the resume token locates the change in the oplog');
    assert.equal(letter.value.event_id, eventIdFromResumeToken(String(letter.value.resume_token)));
    assert.equal(eventOf(beforeDrop, 8), undefined, 'not on the topic');
    assert.deepEqual(
      beforeDrop.map((e) => e.document_id),
      [1, 9, 10, 2].map((id) => `{"$numberInt":"${id}"}`),
      'every other change, in order',
    );
  });

  test('9 field names with "." and "$": delivered intact', () => {
    const event = eventOf(beforeDrop, 9);
    assert.ok(event?.document);
    const document = fromCanonicalJson<Record<string, unknown>>(event.document);
    assert.deepEqual(Object.keys(document), ['_id', 'a.b', '$price', 'nested', 'with space']);
    assert.equal(document['a.b'], 'dotted');
    assert.equal(String(document.$price), '9.99');
    assert.equal((document.$price as { _bsontype: string })._bsontype, 'Decimal128');
    assert.deepEqual(Object.keys(document.nested as object), ['x.y', '$z']);
    assert.deepEqual((document.nested as { $z: unknown }).$z, ['$', '.']);
  });

  test('10 document nested 150 levels: the stand-in accepts it (MongoDB would refuse the insert) and it is delivered whole', () => {
    // Difference: MongoDB refuses documents nested deeper than 100 levels at insert, so the change never exists;
    // the stand-in stores it, and the pipeline carries it unchanged (nothing in it limits the depth).
    const event = eventOf(beforeDrop, 10);
    assert.ok(event?.document, 'published');
    assert.equal(depthOf(fromCanonicalJson<{ deep: unknown }>(event.document).deep), 150);
  });

  test('11 drop of the watched collection: exit code 3 with a clear message, the changes before it published', async () => {
    const orders = mongo.db(db).collection('orders');
    await orders.insertOne({ _id: 3 as never, phase: 'just before the drop' });
    await orders.drop();
    assert.equal(await exitWithin(cdc), 3);
    const text = cdc.output.join('\n');
    assert.match(text, /the collection saw 'drop'/);
    assert.match(text, /CDC_ON_STREAM_END=stop/);
    assert.match(text, /restart with CDC_ON_STREAM_END=reopen/);
    const events = (await readTopic(kafka, topic, { minCount: 5 })).map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));
    assert.ok(eventOf(events, 3), 'the insert right before the drop is published');

    // A restart stops at the same place again (until an operator decides), publishing nothing twice.
    const again = await startService('cdc', env, 'bad-input-cdc-again');
    assert.equal(await exitWithin(again), 3);
    const after = (await readTopic(kafka, topic, { minCount: 5 })).map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));
    assert.deepEqual(
      after.map((e) => e.event_id),
      events.map((e) => e.event_id),
    );
  });
});

// ------------------------------------------------------------------------------------------------------------------
// CDC: the saved resume point has rolled off the oplog. A private stand-in with an oplog capped at 20 entries.

describe('cdc: resume token history lost', () => {
  const prefix = uniqueName('bad-hist');
  const db = prefix.replaceAll('-', '_');
  const topic = `${prefix}-orders-cdc`;
  let privateMongo: PrivateMongo;
  let mongo: MongoClient;
  let env: Record<string, string>;
  const insert = async (from: number, count: number) => {
    const orders = mongo.db(db).collection('orders');
    for (let id = from; id < from + count; id++) await orders.insertOne({ _id: id as never, n: id });
  };
  const events = async (minCount: number) => (await readTopic(kafka, topic, { minCount, quietMs: 1000 })).map((m) => ChangeEventSchema.parse(JSON.parse(String(m.value))));

  before(async () => {
    privateMongo = await startPrivateMongo({ MONGO_OPLOG_MAX_ENTRIES: '20' });
    const { MongoClient: Client } = await import('mongodb');
    mongo = new Client(privateMongo.uri, { serverSelectionTimeoutMS: 10000 });
    await mongo.connect();
    env = cdcEnv(prefix, db, { MONGO_URI: privateMongo.uri, KAFKA_TOPIC_PARTITIONS: '1', KAFKA_CONNECT_RETRIES: SHARED_BROKER_RETRIES });
    // A first run checkpoints a resume token, then stops; meanwhile more changes than the oplog holds.
    const first = await startService('cdc', env, 'bad-input-hist-1');
    await first.waitReady();
    await first.waitForLog(/change stream opened/);
    await insert(1, 3);
    await events(3);
    await first.kill();
    await insert(4, 30);
  });
  after(async () => {
    await mongo?.close();
    await privateMongo?.stop();
  });

  test('12a restart after the oplog rolled past the checkpoint: non-zero exit telling the operator what to do', async () => {
    const cdc = await startService('cdc', env, 'bad-input-hist-2');
    const code = await exitWithin(cdc);
    assert.ok(code !== 0 && code !== null, `non-zero exit (got ${code})`);
    const text = cdc.output.join('\n');
    assert.match(text, /no longer in the MongoDB oplog \(ChangeStreamHistoryLost\)/);
    assert.match(text, /restart with CDC_ON_HISTORY_LOST=resnapshot/);
    assert.equal((await events(3)).length, 3, 'nothing published by the failed run');
  });

  test('12b with CDC_ON_HISTORY_LOST=resnapshot: recovers by snapshotting the collection, then streams on', async () => {
    const cdc = await startService('cdc', { ...env, CDC_ON_HISTORY_LOST: 'resnapshot' }, 'bad-input-hist-3');
    try {
      await cdc.waitReady();
      await cdc.waitForLog(/resume point lost from the oplog: taking a new snapshot/);
      await cdc.waitForLog(/snapshot complete/);
      await cdc.waitForLog(/change stream opened/);
      await insert(100, 1);
      const all = await events(3 + 33 + 1);
      const snapshot = all.filter((e) => e.op === 'snapshot').map((e) => Number(JSON.parse(e.document_id).$numberInt));
      assert.deepEqual(
        snapshot.sort((a, b) => a - b),
        Array.from({ length: 33 }, (_, i) => i + 1),
        'every document of the collection as a snapshot event',
      );
      assert.ok(all.some((e) => e.op === 'insert' && e.document_id === '{"$numberInt":"100"}'), 'a change after the snapshot is streamed');
      // One partition: the marker follows every snapshot event and counts them (the loader deletes the rest).
      const markers = all.flatMap((e, at) => (e.op === 'snapshot_complete' ? [{ at, e }] : []));
      assert.equal(markers.length, 1, 'one snapshot-complete marker');
      assert.ok(all.every((e, at) => e.op !== 'snapshot' || at < markers[0]!.at), 'after every snapshot event');
      assert.deepEqual(decodeSnapshotComplete(markers[0]!.e.document!), { snapshot_events: 33 });
      stillRunning(cdc);
    } finally {
      await cdc.kill();
    }
  });
});

// ------------------------------------------------------------------------------------------------------------------
// Start-up errors: the process ends at once with a non-zero code and a message naming the problem, no secret in it.

interface StartupCase {
  name: string;
  program: 'cdc' | 'processor' | 'loader' | 'gcp-utils';
  env: () => Record<string, string>;
  /** exact exit code, or any non-zero one */
  exit: number | 'non-zero';
  says: RegExp[];
  /** must not appear in the output */
  secret?: string;
}

const scratch = join(repoRoot, '.run', 'test-data', uniqueName('bad-startup'));
const malformedKeyFile = join(scratch, 'key.json');
const MALFORMED_KEY_SECRET = 'MIIEv-not-a-real-private-key-16';
const cdcBase = () => ({ MONGO_URI: infra.mongoUri, KAFKA_BROKERS: infra.kafkaBrokers, CDC_COLLECTIONS: 'startup.orders', CDC_SNAPSHOT: 'never' });
const processorBase = () => ({ KAFKA_BROKERS: infra.kafkaBrokers, PROCESSOR_TOPICS: 'startup-orders-cdc', PROCESSOR_OUTPUT_DIR: scratch });
const loaderBase = () => loaderScenario('startup').env();
const gcpBase = () => ({ GCP_PROJECT: infra.bigqueryProject, BQ_DATASET: 'startup_checks', GCS_ENDPOINT: infra.gcsEndpoint, BIGQUERY_ENDPOINT: infra.bigqueryEndpoint });

const STARTUP: StartupCase[] = [
  {
    name: '13 MongoDB unreachable',
    program: 'cdc',
    env: () => ({ ...cdcBase(), MONGO_URI: 'mongodb://cdc:Pa55-13-secret@127.0.0.1:1/?serverSelectionTimeoutMS=1000', MONGO_CONNECT_TIMEOUT_MS: '1000' }),
    exit: 'non-zero',
    says: [/cannot connect to MongoDB/],
    secret: 'Pa55-13-secret',
  },
  { name: '14a Kafka unreachable (cdc)', program: 'cdc', env: () => ({ ...cdcBase(), KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_RETRIES: '1' }), exit: 'non-zero', says: [/cannot reach Kafka brokers 127\.0\.0\.1:1/] },
  { name: '14b Kafka unreachable (processor)', program: 'processor', env: () => ({ ...processorBase(), KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_RETRIES: '1' }), exit: 'non-zero', says: [/cannot reach Kafka brokers 127\.0\.0\.1:1/] },
  { name: '14c Kafka unreachable (loader)', program: 'loader', env: () => ({ ...loaderBase(), KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_RETRIES: '1' }), exit: 'non-zero', says: [/cannot reach Kafka brokers 127\.0\.0\.1:1/] },
  {
    name: '15a invalid configuration values, each named (cdc)',
    program: 'cdc',
    env: () => ({ ...cdcBase(), MONGO_URI: 'http://admin:Pa55-15-secret@db', CDC_ON_STREAM_END: 'maybe', CDC_MAX_MESSAGE_BYTES: '0', CDC_SNAPSHOT: 'sometimes' }),
    exit: 78,
    says: [/invalid configuration \(4 problems\)/, /MONGO_URI: must be a mongodb:\/\//, /CDC_ON_STREAM_END: .*"maybe"/, /CDC_MAX_MESSAGE_BYTES: .*"0"/, /CDC_SNAPSHOT: .*"sometimes"/],
    secret: 'Pa55-15-secret',
  },
  {
    name: '15b invalid configuration values, each named (processor)',
    program: 'processor',
    env: () => ({ ...processorBase(), PROCESSOR_TOPICS: 'orders cdc', PROCESSOR_BATCH_MAX_ROWS: '-1', PROCESSOR_PARQUET_COMPRESSION: 'LZ9', KAFKA_BROKERS: 'no-port', HTTP_PORT: '70000' }),
    exit: 78,
    says: [/invalid configuration \(5 problems\)/, /PROCESSOR_TOPICS: must be a Kafka topic name/, /PROCESSOR_BATCH_MAX_ROWS: .*"-1"/, /PROCESSOR_PARQUET_COMPRESSION: .*"LZ9"/, /KAFKA_BROKERS: each broker must be host:port/, /HTTP_PORT: .*"70000"/],
  },
  {
    name: '15c invalid configuration values, each named (loader)',
    program: 'loader',
    env: () => ({ ...loaderBase(), LOADER_MODE: 'sometimes', BQ_DATASET: 'bad-name', GCS_ENDPOINT: 'ftp://storage', LOADER_CONCURRENCY: '0', NOT_READY_AFTER_MS: 'soon' }),
    exit: 78,
    says: [/invalid configuration \(5 problems\)/, /LOADER_MODE: .*"sometimes"/, /BQ_DATASET: must be 1 to 1024 letters, digits and underscores/, /GCS_ENDPOINT: must be an http\(s\) URL/, /LOADER_CONCURRENCY: .*"0"/, /NOT_READY_AFTER_MS: .*"soon"/],
  },
  {
    name: '15d a bucket output whose name Cloud Storage would refuse (processor)',
    program: 'processor',
    env: () => ({ ...processorBase(), PROCESSOR_OUTPUT: 'gs://goog-parquet/files' }),
    exit: 78,
    says: [/PROCESSOR_OUTPUT: bucket "goog-parquet": must not start with "goog"/],
  },
  {
    name: '15e an input that is neither a directory nor a gs:// bucket (loader)',
    program: 'loader',
    env: () => ({ ...loaderBase(), LOADER_INPUT: 's3://parquet/files' }),
    exit: 78,
    says: [/LOADER_INPUT: s3:\/\/parquet\/files: only gs:\/\/ buckets and local directories are supported/],
  },
  {
    name: '15f a bucket output that does not exist: the processor stops at start naming it',
    program: 'processor',
    env: () => ({ ...processorBase(), PROCESSOR_OUTPUT: 'gs://startup-no-such-bucket/files', GCS_ENDPOINT: infra.gcsEndpoint, GCP_PROJECT: infra.bigqueryProject }),
    exit: 'non-zero',
    says: [/PROCESSOR_OUTPUT: bucket startup-no-such-bucket cannot be used: HTTP 404/],
  },
  {
    name: '16a credentials key file missing (loader)',
    program: 'loader',
    env: () => ({ ...loaderBase(), GOOGLE_APPLICATION_CREDENTIALS: join(scratch, 'no-such-key.json') }),
    exit: 78,
    says: [/GOOGLE_APPLICATION_CREDENTIALS: key file does not exist/],
  },
  { name: '16b credentials key file missing (gcp-utils)', program: 'gcp-utils', env: () => ({ ...gcpBase(), GOOGLE_APPLICATION_CREDENTIALS: join(scratch, 'no-such-key.json') }), exit: 78, says: [/GOOGLE_APPLICATION_CREDENTIALS: key file does not exist/] },
  {
    name: '16c malformed credentials key file (loader)',
    program: 'loader',
    env: () => ({ ...loaderBase(), GOOGLE_APPLICATION_CREDENTIALS: malformedKeyFile }),
    exit: 78,
    says: [/GOOGLE_APPLICATION_CREDENTIALS: .*not a JSON credentials file/],
    secret: MALFORMED_KEY_SECRET,
  },
  {
    name: '16d malformed credentials key file (gcp-utils)',
    program: 'gcp-utils',
    env: () => ({ ...gcpBase(), GOOGLE_APPLICATION_CREDENTIALS: malformedKeyFile }),
    exit: 78,
    says: [/GOOGLE_APPLICATION_CREDENTIALS: .*not a JSON credentials file/],
    secret: MALFORMED_KEY_SECRET,
  },
];

describe('start-up errors', () => {
  before(() => {
    mkdirSync(scratch, { recursive: true });
    // A key file cut short: the private key is in it, the JSON is not complete.
    writeFileSync(malformedKeyFile, `{"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----\\n${MALFORMED_KEY_SECRET}`);
  });

  for (const c of STARTUP) {
    test(c.name, async () => {
      let code: number | null;
      let output: string;
      if (c.program === 'gcp-utils') {
        const result = await runCli('gcp-utils/dist/main.js', [], c.env());
        code = result.code;
        output = result.stdout + result.stderr;
      } else {
        const service = await startService(c.program, c.env(), `bad-input-${c.name.split(' ')[0]}`);
        code = await exitWithin(service);
        output = service.output.join('\n');
      }
      if (c.exit === 'non-zero') assert.ok(code !== 0 && code !== null, `non-zero exit (got ${code}):\n${output}`);
      else assert.equal(code, c.exit, output);
      for (const pattern of c.says) assert.match(output, pattern);
      if (c.secret) assert.ok(!output.includes(c.secret), 'no secret in the output');
    });
  }
});

// ------------------------------------------------------------------------------------------------------------------
// Loader: files and file-ready events it must refuse. One loader, one files-topic partition (events in order), a
// dataset and a bucket that do not exist yet.

interface FileCase {
  name: string;
  /** key of the file-ready event (identifies its dead letter) */
  key: string;
  /** the dead letter's reason; `quarantined`: the file (or, when missing, its reason note) is under quarantine/ */
  reason: 'load_failed' | 'checksum_mismatch' | 'missing_file' | 'invalid_event';
  error: RegExp;
  quarantined?: 'file' | 'note';
}

describe('loader: bad files and bad file-ready events', () => {
  const s = loaderScenario('bad-input');
  const outsideDir = join(dirname(s.inputDir), `${s.prefix}-outside`);
  const e = (n: number) => orderChange('insert', n, { t: T0 + n, i: 1 }, n);
  const files: Record<string, WrittenTestFile> = {};
  let loader: ServiceProcess;
  let deadLetters: Awaited<ReturnType<typeof deadLettersByKey>>;
  let loadedEventIds: string[];
  let datasetExisted: boolean;
  let bucketExisted: boolean;

  const CASES: FileCase[] = [
    { name: '19a truncated Parquet file (announced as it is): load fails, quarantined', key: 'truncated', reason: 'load_failed', error: /./, quarantined: 'file' },
    { name: '19b truncated Parquet file (announced whole): checksum mismatch, quarantined', key: 'truncated-copy', reason: 'checksum_mismatch', error: /md5 .* stored, announced md5/, quarantined: 'file' },
    { name: '21 file-ready event of a missing local file: quarantined with a reason note', key: 'missing', reason: 'missing_file', error: /does not exist/, quarantined: 'note' },
    { name: '22a file-ready event that is not JSON', key: 'not-json', reason: 'invalid_event', error: /invalid file-ready event: .*JSON/ },
    { name: '22b file-ready event failing the schema', key: 'bad-schema', reason: 'invalid_event', error: /invalid file-ready event: .*md5[\s\S]*rows|rows[\s\S]*md5/ },
    { name: '22c file-ready event without a value', key: 'no-value', reason: 'invalid_event', error: /no value/ },
    { name: '23a path escaping the input directory (../../etc/passwd)', key: 'escape-passwd', reason: 'invalid_event', error: /"\.\.\/\.\.\/etc\/passwd" is not a relative \.parquet path inside the input directory/ },
    { name: '23b path escaping to a real Parquet file beside the input directory', key: 'escape-file', reason: 'invalid_event', error: /is not a relative \.parquet path inside the input directory/ },
    { name: '23c path with ../ in the middle', key: 'escape-middle', reason: 'invalid_event', error: /is not a relative \.parquet path inside the input directory/ },
    { name: '23d absolute path', key: 'escape-absolute', reason: 'invalid_event', error: /is not a relative \.parquet path inside the input directory/ },
  ];

  before(async () => {
    const gcp = testGcp(s.gcpConfig);
    [datasetExisted] = await gcp.bigquery.dataset(s.dataset).exists();
    [bucketExisted] = await gcp.storage.bucket(s.bucket).exists();
    await createTopic(kafka, s.filesTopic, 1);
    files.good1 = await writeTestFile(s.inputDir, s.topic, 0, 0, [e(1), e(2)]);
    files.truncated = await writeTestFile(s.inputDir, s.topic, 0, 2, [e(3), e(4)]);
    truncateSync(files.truncated.absolutePath, 200);
    const cut = await fileChecksums(files.truncated.absolutePath);
    files.truncated.event = { ...files.truncated.event, md5: cut.md5, crc32c: cut.crc32c, bytes: cut.bytes };
    files.truncatedCopy = await writeTestFile(s.inputDir, s.topic, 0, 4, [e(5), e(6)]);
    truncateSync(files.truncatedCopy.absolutePath, 300);
    files.good2 = await writeTestFile(s.inputDir, s.topic, 0, 6, [e(7)]);
    files.missing = await writeTestFile(s.inputDir, s.topic, 0, 7, [e(9)]);
    unlinkSync(files.missing.absolutePath);
    // A valid file outside the input directory: an event pointing at it must never make the loader read it.
    files.outside = await writeTestFile(outsideDir, s.topic, 1, 0, [e(20)]);
    files.good3 = await writeTestFile(s.inputDir, s.topic, 1, 2, [e(8)]);
    const event = (key: string, value: unknown) => ({ key, value: value as string });
    const outsideRelative = `../${basename(outsideDir)}/${files.outside.event.path}`;
    await publishFileEvents(kafka, s.filesTopic, [
      event('good-1', JSON.stringify(files.good1.event)),
      event('truncated', JSON.stringify(files.truncated.event)),
      event('truncated-copy', JSON.stringify(files.truncatedCopy.event)),
      event('good-2', JSON.stringify(files.good2.event)),
      event('duplicate-1', JSON.stringify(files.good1.event)),
      event('missing', JSON.stringify(files.missing.event)),
      event('not-json', '{"file_id": "x", "path": '),
      event('bad-schema', JSON.stringify({ ...files.good2.event, md5: undefined, rows: 0 })),
      event('no-value', null),
      event('escape-passwd', JSON.stringify({ ...files.good3.event, path: '../../etc/passwd' })),
      event('escape-file', JSON.stringify({ ...files.outside.event, path: outsideRelative })),
      event('escape-middle', JSON.stringify({ ...files.outside.event, path: `${s.topic}/../${outsideRelative}` })),
      event('escape-absolute', JSON.stringify({ ...files.outside.event, path: files.outside.absolutePath })),
      event('duplicate-2', JSON.stringify(files.good2.event)),
      event('good-3', JSON.stringify(files.good3.event)),
    ]);
    loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '1', KAFKA_CONNECT_RETRIES: SHARED_BROKER_RETRIES }), 'bad-input-loader');
    await loader.waitReady();
    await waitForCommittedToEnd(kafka, s.group, s.filesTopic);
    deadLetters = await deadLettersByKey(`${s.filesTopic}.dlq`, CASES.length);
    loadedEventIds = (await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')}`)).map((r) => String(r.event_id)).sort();
  });
  after(() => loader?.kill());

  for (const c of CASES) {
    test(c.name, () => {
      const letter = deadLetters.get(c.key);
      assert.ok(letter, `dead-lettered on ${s.filesTopic}.dlq`);
      assert.equal(letter.value.reason, c.reason);
      assert.equal(String(letter.headers?.reason), c.reason, 'reason header');
      assert.match(String(letter.value.error), c.error);
      assert.equal(letter.value.stage, 'loader');
      const file = { truncated: files.truncated, 'truncated-copy': files.truncatedCopy, missing: files.missing }[c.key];
      if (c.quarantined && file) {
        const inQuarantine = join(s.inputDir, 'quarantine', ...file.event.path.split('/'));
        assert.equal(letter.value.path, file.event.path);
        assert.equal(letter.value.file_id, file.event.file_id);
        const note = JSON.parse(readFileSync(`${inQuarantine}.reason.json`, 'utf8')) as { reason: string };
        assert.equal(note.reason, c.reason, 'reason note beside the file');
        if (c.quarantined === 'file') {
          assert.ok(existsSync(inQuarantine), 'moved to quarantine/');
          assert.ok(!existsSync(file.absolutePath), 'no longer in the input directory');
          assert.equal(letter.value.quarantined_path, inQuarantine);
        }
      }
    });
  }

  test('23 a file outside the input directory is never read, moved or loaded', () => {
    assert.ok(existsSync(files.outside!.absolutePath), 'still where it was');
    assert.ok(!loadedEventIds.includes(e(20).event_id), 'not loaded');
    assert.ok(!loader.output.some((line) => line.includes(basename(files.outside!.absolutePath)) && /file loaded|quarantined/.test(line)));
  });

  test('20 duplicate file-ready events: each file loaded once', async () => {
    const metrics = await loader.metrics();
    assert.equal(metricValue(metrics, 'loader_files_already_loaded_total'), 2, 'both repeats recognised');
    assert.equal(metricValue(metrics, 'loader_files_loaded_total'), 3);
    assert.deepEqual(loadedEventIds, [e(1), e(2), e(7), e(8)].map((x) => x.event_id).sort(), 'the good files once each, the last one after all the bad input');
    assert.equal(metricValue(metrics, 'loader_files_quarantined_total'), CASES.length);
    stillRunning(loader);
  });

  test('17 missing dataset: the loader creates it with both tables', () => {
    assert.equal(datasetExisted, false, 'the dataset did not exist before the start');
    const ready = loader.output.find((line) => /BigQuery tables ready/.test(line));
    assert.ok(ready);
    assert.match(ready, new RegExp(`"dataset":\\{"name":"${s.dataset}","status":"created"\\}`));
    assert.match(ready, /orders_changes: created/);
    assert.match(ready, /orders_current: created/);
  });

  test('18a missing bucket: the loader creates it, stages the files there and deletes them once loaded', async () => {
    assert.equal(bucketExisted, false, 'the bucket did not exist before the start');
    assert.ok(loader.output.some((line) => /staging files in the bucket/.test(line) && /"status":"created"/.test(line)));
    assert.ok(loader.output.some((line) => /group loaded/.test(line) && /"via":"gcs"/.test(line)), 'a group was loaded from the new bucket');
    const [left] = await testGcp(s.gcpConfig).storage.bucket(s.bucket).file(files.good1!.event.path).exists();
    assert.ok(!left, 'its object deleted once the group is in both tables');
    assert.equal(metricValue(await loader.metrics(), 'loader_direct_mode'), 0);
  });

  test('18b bucket that cannot be created: loads go straight from the local disk', async () => {
    const refused = `${s.prefix}-refused`.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    const storage = await startBucketRefusingProxy(infra.gcsEndpoint);
    const inputDir = `${s.inputDir}-direct`;
    const filesTopic = `${s.filesTopic}-direct`;
    const group = `${s.group}-direct`;
    await createTopic(kafka, filesTopic, 1);
    const file = await writeTestFile(inputDir, s.topic, 2, 0, [e(30)]);
    await publishFileEvents(kafka, filesTopic, [file]);
    const direct = await startService(
      'loader',
      s.env({ GCS_BUCKET: refused, GCS_ENDPOINT: storage.endpoint, LOADER_INPUT_DIR: inputDir, LOADER_FILES_TOPIC: filesTopic, LOADER_GROUP_ID: group, KAFKA_CONNECT_RETRIES: SHARED_BROKER_RETRIES }),
      'bad-input-loader-direct',
    );
    try {
      await direct.waitReady();
      await waitForCommittedToEnd(kafka, group, filesTopic);
      assert.ok(direct.output.some((line) => /the bucket cannot be used \(refused by Cloud Storage\)/.test(line) && line.includes(refused)));
      assert.equal(metricValue(await direct.metrics(), 'loader_direct_mode'), 1);
      const rows = await bqRows(s.gcpConfig, `SELECT event_id FROM ${table(s.gcpConfig, 'orders_changes')} WHERE event_id = '${e(30).event_id}'`);
      assert.equal(rows.length, 1, 'loaded from the local file');
      assert.ok(storage.refused >= 1, 'Cloud Storage was asked and refused');
      stillRunning(direct);
    } finally {
      await direct.kill();
      await storage.close();
    }
  });
});
