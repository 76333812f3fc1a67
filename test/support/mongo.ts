import { MongoClient } from 'mongodb';
import { infra } from './infra.js';

export async function testMongo(): Promise<MongoClient> {
  const client = new MongoClient(infra.mongoUri, { serverSelectionTimeoutMS: 10000 });
  await client.connect();
  return client;
}
