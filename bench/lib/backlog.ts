// The change backlog of the pipeline benchmarks: realistic orders written to MongoDB at full speed.
import * as mongodb from 'mongodb';
import { fmt, now, orderFactory } from './common.js';

export interface BacklogWritten {
  events: number;
  ops: { insert: number; update: number; delete: number };
  seconds: number;
  changesPerSec: number;
  load?: number[];
}

/**
 * Writes exactly `events` changes: per block of up to `block` changes, ~85% inserts (insertMany), ~10% updates
 * ($set status/updated_at, $inc version: always a change) and ~5% deletes of earlier orders (one bulkWrite).
 * `onProgress(written, performance.now())` after each block.
 */
export async function writeBacklog(
  collection: mongodb.Collection,
  events: number,
  block: number,
  { onProgress }: { onProgress?: (written: number, at: number) => void } = {},
): Promise<BacklogWritten> {
  const factory = orderFactory(mongodb); // the driver's own BSON classes
  const { random, statuses } = factory;
  const live: mongodb.ObjectId[] = [];
  let written = 0;
  let n = 0;
  const ops = { insert: 0, update: 0, delete: 0 };
  const started = now();
  let lastReport = started;
  while (written < events) {
    const size = Math.min(block, events - written);
    const updates = live.length > size ? Math.floor(size * 0.1) : 0;
    const deletes = live.length > size ? Math.floor(size * 0.05) : 0;
    const inserts = size - updates - deletes;
    const docs = Array.from({ length: inserts }, () => factory.order(n++));
    const inserted = await collection.insertMany(docs, { ordered: true });
    const bulk: mongodb.AnyBulkWriteOperation[] = [];
    for (let k = 0; k < updates; k++) {
      const id = live[Math.floor(random() * live.length)];
      bulk.push({ updateOne: { filter: { _id: id }, update: { $set: { status: statuses[Math.floor(random() * statuses.length)], updated_at: new Date() }, $inc: { version: 1 } } } });
    }
    for (let k = 0; k < deletes; k++) {
      const at = Math.floor(random() * live.length);
      const id = live[at];
      live[at] = live[live.length - 1]!;
      live.pop();
      bulk.push({ deleteOne: { filter: { _id: id } } });
    }
    let changed = inserted.insertedCount;
    if (bulk.length > 0) {
      const result = await collection.bulkWrite(bulk, { ordered: true });
      changed += result.modifiedCount + result.deletedCount;
      ops.update += result.modifiedCount;
      ops.delete += result.deletedCount;
    }
    ops.insert += inserted.insertedCount;
    if (changed !== size) throw new Error(`block of ${size} changes made ${changed}`);
    for (const d of docs) live.push(d._id);
    written += size;
    onProgress?.(written, now());
    if (now() - lastReport > 10000) {
      lastReport = now();
      process.stderr.write(`  wrote ${fmt(written)} / ${fmt(events)} changes (${fmt(written / ((lastReport - started) / 1000))}/s)\n`);
    }
  }
  const seconds = (now() - started) / 1000;
  return { events: written, ops, seconds, changesPerSec: written / seconds };
}
