// CDC events/s with 1 vs 50 collections at the same total number of changes: one stream per collection
// (CDC_CAPTURE_SCOPE=collection) against one stream for the database (CDC_CAPTURE_SCOPE=database).
//
// Method, per case: the cdc is started with CDC_SNAPSHOT=never on a fresh database whose collections each hold one
// document (their topics are made and their streams checkpointed), stopped (SIGTERM); then N inserts are written,
// spread evenly over the collections, while it is down; it is started again and timed from its start until
// cdc_events_published_total reaches N.
//
//   npx tsc -b && node bench/dist/cdc-scope.js [--events 20000]
//
// MONGO_URI / KAFKA_BROKERS select the servers (default: the local infrastructure).
import { parseArgs } from 'node:util';
import { MongoClient } from 'mongodb';
import { infra, uniqueName } from '@cdc/tests/dist/support/infra.js';
import { metricValue, startService } from '@cdc/tests/dist/support/service-process.js';
import { waitFor } from '@cdc/tests/dist/support/wait.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' } } });
const events = Number(values.events);

interface Case {
  name: string;
  collections: number;
  scope: 'collection' | 'database';
}

const cases: Case[] = [
  { name: '1 collection, collection scope', collections: 1, scope: 'collection' },
  { name: '50 collections, collection scope (50 streams)', collections: 50, scope: 'collection' },
  { name: '50 collections, database scope (1 stream)', collections: 50, scope: 'database' },
];

const mongo = new MongoClient(infra.mongoUri);
await mongo.connect();
try {
  for (const c of cases) {
    const prefix = uniqueName('bench-scope');
    const db = prefix.replaceAll('-', '_');
    const names = Array.from({ length: c.collections }, (_, i) => `c${i}`);
    for (const name of names) await mongo.db(db).collection(name).insertOne({ seed: true });
    const env = {
      MONGO_URI: infra.mongoUri,
      KAFKA_BROKERS: infra.kafkaBrokers,
      CDC_SNAPSHOT: 'never',
      CDC_CAPTURE_SCOPE: c.scope,
      CDC_CAPTURE_DATABASE: db,
      CDC_COLLECTIONS: names.map((n) => `${db}.${n}`).join(','),
      CDC_TOPIC_TEMPLATE: `${prefix}-{coll}-cdc`,
      CDC_CHECKPOINT_TOPIC: `${prefix}-checkpoints`,
      KAFKA_CLIENT_ID: prefix,
    };
    const first = await startService('cdc', env, `bench-scope-${c.collections}-${c.scope}-1`);
    await first.waitReady(120000);
    await waitFor('every stream open', () => first.output.filter((l) => /change stream opened/.test(l)).length === (c.scope === 'collection' ? c.collections : 1), 120000);
    await first.kill();

    const perCollection = Math.ceil(events / c.collections);
    for (const name of names) {
      for (let written = 0; written < perCollection; written += 1000) {
        await mongo.db(db).collection(name).insertMany(Array.from({ length: Math.min(1000, perCollection - written) }, (_, i) => ({ n: written + i, status: 'new', total: i * 1.5, items: [{ sku: 'a', qty: 1 }] })));
      }
    }
    const total = perCollection * c.collections;

    const started = performance.now();
    const second = await startService('cdc', env, `bench-scope-${c.collections}-${c.scope}-2`);
    let published = 0;
    await waitFor(
      `${total} events published`,
      async () => {
        published = metricValue(await second.metrics(), 'cdc_events_published_total');
        return published >= total;
      },
      600000,
      250,
    );
    const seconds = (performance.now() - started) / 1000;
    await second.kill();
    await mongo.db(db).dropDatabase();
    console.log(JSON.stringify({ case: c.name, events: total, seconds: Math.round(seconds * 10) / 10, eventsPerSecond: Math.round(total / seconds) }));
  }
} finally {
  await mongo.close();
}
