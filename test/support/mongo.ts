import { after, before } from 'node:test';
import { MongoServerError, type Collection, type Document, MongoClient } from 'mongodb';
import { infra } from './infra.js';

/** A client for a test file: connected before its tests, closed after them. */
export function suiteMongo(): () => MongoClient {
  let client: MongoClient | undefined;
  before(async () => {
    client = await testMongo();
  });
  after(async () => {
    await client?.close();
  });
  return () => client!;
}

export async function testMongo(): Promise<MongoClient> {
  const client = new MongoClient(infra.mongoUri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  return client;
}

/**
 * The environment of a CDC service watching `<db>.orders` into topics named after `prefix`, from "now" (no
 * snapshot), with the shipped batching; `extra` overrides any of it.
 */
export function cdcStreamEnv(prefix: string, db: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGO_URI: infra.mongoUri,
    KAFKA_BROKERS: infra.kafkaBrokers,
    CDC_COLLECTIONS: `${db}.orders`,
    CDC_TOPIC_TEMPLATE: `${prefix}-{coll}-cdc`,
    CDC_CHECKPOINT_TOPIC: `${prefix}-checkpoints`,
    KAFKA_CLIENT_ID: prefix,
    CDC_SNAPSHOT: 'never',
    ...extra,
  };
}

/**
 * The CDC service of the tests (cdcStreamEnv): 3 partitions, batches closed after 50 ms; `extra` overrides any of it
 * (e.g. MONGO_URI of a private stand-in).
 */
export function cdcEnv(prefix: string, db: string, extra: Record<string, string> = {}): Record<string, string> {
  return cdcStreamEnv(prefix, db, { KAFKA_TOPIC_PARTITIONS: '3', CDC_BATCH_MAX_WAIT_MS: '50', ...extra });
}

/** The cdc capturing database `db` (CDC_CAPTURE_SCOPE=database), shipped defaults otherwise. */
export function scopeEnv(prefix: string, db: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MONGO_URI: infra.mongoUri,
    KAFKA_BROKERS: infra.kafkaBrokers,
    CDC_CAPTURE_SCOPE: 'database',
    CDC_CAPTURE_DATABASE: db,
    CDC_TOPIC_TEMPLATE: `${prefix}-{coll}-cdc`,
    CDC_CHECKPOINT_TOPIC: `${prefix}-checkpoints`,
    KAFKA_CLIENT_ID: prefix,
    ...extra,
  };
}

/** Whether a change stream can no longer resume after `token`: MongoDB answers ChangeStreamHistoryLost (286). */
export async function rolledOffOplog(collection: Collection<Document>, token: string): Promise<boolean> {
  const stream = collection.watch([], { resumeAfter: { _data: token } });
  try {
    await stream.tryNext();
    return false;
  } catch (error) {
    if (error instanceof MongoServerError && error.code === 286) return true;
    throw error;
  } finally {
    await stream.close();
  }
}
