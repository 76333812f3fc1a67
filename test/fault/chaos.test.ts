// End-to-end chaos with the shipped defaults (no shortened session, transaction or batch timeouts): a writer
// mutates two MongoDB collections (two CDC streams sharing the checkpoint partition) while components are
// SIGKILLed and restarted. Half the kills are aimed at the dangerous windows through the fault-injection hooks: a
// Parquet file renamed but its transaction open (every partition's batch closes on the same age tick, so others
// are flushing too), a transaction committed but not yet logged, the CDC between sending a transaction's records
// and committing them. At the end the BigQuery current-state table equals the collection, and the change-history
// table holds every change exactly once (counted, not deduplicated). CHAOS_KILLS (default 10) and CHAOS_SEED
// replay a run; `npm run chaos:long` runs 100 kills.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Document } from 'mongodb';
import { BSON, documentIdOf, eventIdFromResumeToken, fromCanonicalJson, toCanonicalJson } from '@cdc/core';
import { infra, uniqueName } from '../support/infra.js';
import { startPrivateKafka } from '../support/private-kafka.js';
import { testMongo } from '../support/mongo.js';
import { startService, type ServiceProcess } from '../support/service-process.js';
import { seededRandom, seedFromEnv } from '../support/random.js';
import { bqRows, type LoaderScenario, loaderScenario, table } from '../support/loader.js';

const { Decimal128, Int32 } = BSON;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const KILLS = Number(process.env.CHAOS_KILLS ?? 10);
const COMPONENTS = ['cdc', 'processor', 'loader', 'kafka'] as const;
type Component = (typeof COMPONENTS)[number];
type Service = Exclude<Component, 'kafka'>;

/** Fault-injection hooks aimed at the windows where a crash is most dangerous: each makes the process SIGKILL itself. */
const AIMED: Record<Service, { name: string; env: (n: number) => Record<string, string> }[]> = {
  cdc: [{ name: 'cdc mid-transaction', env: (n) => ({ CDC_TEST_CRASH_IN_TRANSACTION: String(n) }) }],
  processor: [
    { name: 'file renamed, transaction open', env: (n) => ({ PROCESSOR_TEST_CRASH_AFTER_RENAME: String(n) }) },
    { name: 'transaction committed, not logged', env: (n) => ({ PROCESSOR_TEST_CRASH_AFTER_COMMIT: String(n) }) },
  ],
  loader: [
    { name: 'file uploaded, not loaded', env: (n) => ({ LOADER_TEST_CRASH_AFTER_UPLOAD: String(n) }) },
    { name: 'file loaded, offset not committed', env: (n) => ({ LOADER_TEST_CRASH_AFTER_LOAD: String(n) }) },
  ],
};

function order(random: () => number, id: number, version: number): Document {
  const items = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, i) => ({
    sku: `SKU-${Math.floor(random() * 1000)}`,
    qty: new Int32(1 + i),
    price: Decimal128.fromString((random() * 100).toFixed(2)),
  }));
  return { customer: `c${id % 17}`, status: ['new', 'paid', 'shipped'][Math.floor(random() * 3)], items, version, at: new Date() };
}

test(`chaos: ${KILLS} random SIGKILLs of cdc, processor, loader and the Kafka broker lose and double nothing`, { timeout: 30 * 60 * 1000 }, async () => {
  const seed = seedFromEnv('CHAOS_SEED');
  const random = seededRandom(seed);
  const scenario: LoaderScenario = loaderScenario('chaos');
  const prefix = uniqueName('chaos');
  const db = prefix.replaceAll('-', '_');
  const cdcTopic = `${prefix}-orders-cdc`;
  const mongo = await testMongo();
  // the broker killed is the test's own: the tests beside it keep theirs
  const broker = await startPrivateKafka();
  const orders = mongo.db(db).collection('orders');
  // A second stream of the same CDC instance: its checkpoints share the checkpoint partition with orders'.
  const customers = mongo.db(db).collection('customers');
  const running = new Map<Service, ServiceProcess>();
  const armed = new Set<ServiceProcess>();
  const envs: Record<Service, Record<string, string>> = {
    cdc: {
      MONGO_URI: infra.mongoUri,
      KAFKA_BROKERS: broker.brokers,
      CDC_COLLECTIONS: `${db}.orders,${db}.customers`,
      CDC_TOPIC_TEMPLATE: `${prefix}-{coll}-cdc`,
      CDC_CHECKPOINT_TOPIC: `${prefix}-checkpoints`,
      KAFKA_CLIENT_ID: `${prefix}-cdc`,
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_CONNECT_RETRIES: '20',
    },
    processor: {
      KAFKA_BROKERS: broker.brokers,
      KAFKA_CLIENT_ID: `${prefix}-processor`,
      PROCESSOR_TOPICS: cdcTopic,
      PROCESSOR_GROUP_ID: `${prefix}-processor`,
      PROCESSOR_FILES_TOPIC: scenario.filesTopic,
      PROCESSOR_OUTPUT_DIR: scenario.inputDir,
      KAFKA_TOPIC_PARTITIONS: '3',
      KAFKA_CONNECT_RETRIES: '20',
    },
    // The shipped session timeout (the scenario's default shortens it for the other loader tests).
    loader: scenario.env({ KAFKA_BROKERS: broker.brokers, KAFKA_CONNECT_RETRIES: '20', LOADER_CONCURRENCY: '3', LOADER_SESSION_TIMEOUT_MS: '30000' }),
  };
  const start = async (component: Service, label: string, hook: Record<string, string> = {}) => {
    const service = await startService(component, { ...envs[component], ...hook }, `${prefix}-${label}`);
    running.set(component, service);
    if (Object.keys(hook).length > 0) armed.add(service);
    return service;
  };
  // Like the compose restart policy: a service that exits on its own is restarted (and reported, unless it was
  // armed with a fault-injection hook and died by it).
  const selfExits: string[] = [];
  let hooksFired = 0;
  const supervise = async () => {
    for (const [component, service] of running) {
      if (service.child.exitCode === null && service.child.signalCode === null) continue;
      if (armed.has(service) && service.child.signalCode === 'SIGKILL') hooksFired++;
      else selfExits.push(`${service.name} exited with ${service.child.exitCode ?? service.child.signalCode}`);
      await start(component, `${component}-restart-${hooksFired + selfExits.length}`);
    }
  };
  const kinds = new Map<string, number>();

  // A marker write gives the test's own change stream a start point: the truth to compare against.
  const markerStream = orders.watch([], { maxAwaitTimeMS: 200 });
  await markerStream.tryNext();
  await orders.insertOne({ _id: -1 as unknown as never, marker: true });
  const markerToken = (await markerStream.next())._id as Document;
  await markerStream.close();

  let writing = true;
  let writeCount = 0;
  try {
    // Before any kill: every service is up (the loader creates the dataset and tables).
    for (const component of ['cdc', 'processor', 'loader'] as const) await (await start(component, component)).waitReady(120000);

    const writer = (async () => {
      while (writing) {
        const id = Math.floor(random() * 150);
        const roll = random();
        try {
          if (roll < 0.1) await customers.updateOne({ _id: id as unknown as never }, { $inc: { visits: 1 } }, { upsert: true });
          else if (roll < 0.35) await orders.insertOne({ _id: id as unknown as never, ...order(random, id, 0) });
          else if (roll < 0.65) await orders.updateOne({ _id: id as unknown as never }, { $set: { status: 'paid', at: new Date() }, $inc: { version: 1 } });
          else if (roll < 0.8) await orders.replaceOne({ _id: id as unknown as never }, order(random, id, 100));
          else await orders.deleteOne({ _id: id as unknown as never });
          writeCount++;
        } catch (error) {
          if ((error as { code?: number }).code !== 11000) throw error; // duplicate insert: nothing changed
        }
        await sleep(5 + random() * 20);
      }
    })();

    for (let k = 0; k < KILLS; k++) {
      await sleep(1000 + random() * 3000);
      await supervise();
      const victim = COMPONENTS[Math.floor(random() * COMPONENTS.length)]!;
      if (victim === 'kafka') {
        broker.kill();
        kinds.set('broker', (kinds.get('broker') ?? 0) + 1);
        await sleep(random() * 1000);
        await broker.start();
      } else {
        await running.get(victim)!.kill('SIGKILL');
        await sleep(random() * 1000);
        // Half the time the successor is armed: it kills itself in a dangerous window a little later.
        const hooks = AIMED[victim];
        const aimed = random() < 0.5 ? hooks[Math.floor(random() * hooks.length)]! : null;
        const kind = aimed ? `${victim}: ${aimed.name}` : `${victim}: random moment`;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
        await start(victim, `${victim}-${k}`, aimed ? aimed.env(1 + Math.floor(random() * 3)) : {});
      }
    }
    writing = false;
    await writer;

    // Convergence: the current-state table equals the collection.
    const expected = new Map<string, string>();
    for (const doc of await orders.find({ _id: { $gte: 0 } as never }).toArray()) expected.set(documentIdOf({ _id: doc._id }), toCanonicalJson(doc));
    const deadline = Date.now() + 300000;
    let actual = new Map<string, string>();
    let differences: string[] = [];
    while (Date.now() < deadline) {
      await supervise();
      const rows = await bqRows(scenario.gcpConfig, `SELECT document_id, document FROM ${table(scenario.gcpConfig, 'orders_current')}`).catch(() => []);
      actual = new Map(rows.filter((r) => r.document_id !== '{"$numberInt":"-1"}').map((r) => [String(r.document_id), toCanonicalJson(fromCanonicalJson(String(r.document)))]));
      differences = [...new Set([...expected.keys(), ...actual.keys()])].filter((id) => expected.get(id) !== actual.get(id));
      if (differences.length === 0) break;
      await sleep(3000);
    }
    assert.deepEqual(differences, [], `orders_current differs from the collection for ${differences.length} documents (CHAOS_SEED=${seed})`);
    assert.ok(expected.size > 0 && writeCount > 100, `the writer did real work (${writeCount} writes, ${expected.size} live documents)`);

    // History: every change the server recorded is in orders_changes, each exactly once.
    const stream = orders.watch([], { resumeAfter: markerToken, maxAwaitTimeMS: 300 });
    const changeIds = new Set<string>();
    for (let quiet = 0; quiet < 5; ) {
      const change = await stream.tryNext();
      if (change) {
        changeIds.add(eventIdFromResumeToken((change._id as { _data: string })._data));
        quiet = 0;
      } else quiet++;
    }
    await stream.close();
    const [counts] = await bqRows(scenario.gcpConfig, `SELECT COUNT(*) AS n, COUNT(DISTINCT event_id) AS distinct_ids FROM ${table(scenario.gcpConfig, 'orders_changes')}`);
    assert.equal(Number(counts!.n), Number(counts!.distinct_ids), `orders_changes holds duplicates (CHAOS_SEED=${seed})`);
    const loaded = new Set((await bqRows(scenario.gcpConfig, `SELECT event_id FROM ${table(scenario.gcpConfig, 'orders_changes')} WHERE NOT snapshot`)).map((r) => String(r.event_id)));
    const missing = [...changeIds].filter((id) => !loaded.has(id));
    assert.deepEqual(missing, [], `changes missing from orders_changes (CHAOS_SEED=${seed})`);
    if (selfExits.length > 0) console.log(`chaos: services that exited on their own and were restarted: ${selfExits.join('; ')}`);
    console.log(`chaos: seed ${seed}, ${KILLS} kills (${[...kinds].map(([kind, n]) => `${kind} ${n}`).join(', ')}; ${hooksFired} aimed hooks fired), ${writeCount} writes, ${changeIds.size} changes (${counts!.n} rows, ${counts!.distinct_ids} distinct event ids), ${expected.size} live documents: converged`);
  } catch (error) {
    console.error(`chaos test failed: replay with CHAOS_SEED=${seed} CHAOS_KILLS=${KILLS}`);
    throw error;
  } finally {
    writing = false;
    for (const service of running.values()) await service.kill('SIGTERM');
    await broker.remove();
    await mongo.close();
  }
});
