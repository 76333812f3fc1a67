// Seeded random write operations against one collection, each run through the Node driver and recorded with what
// the driver acknowledged, so that the change events of each operation can be checked against it.
import {
  Binary, Double, Int32, Long, MongoBulkWriteError, MongoServerError, ObjectId, UUID,
  type AnyBulkWriteOperation, type BulkWriteResult, type ClientSession, type Collection, type Document, type Filter, type UpdateFilter,
} from 'mongodb';

/** Events an operation must produce: inserts, updates (update or replace events) and deletes. */
export interface EventCounts {
  inserts: number;
  updates: number;
  deletes: number;
}

export interface OperationRecord {
  description: string;
  /** Known from the driver's answer; a findOneAndUpdate/Replace leaves `updates` to the check (see `changed`). */
  expected: EventCounts;
  /** findOneAndUpdate/Replace that matched: the document before (undefined: take the replayed one) and after. */
  changed?: { id: unknown; before: Document | undefined; after: Document | null };
  /** A refused write: the whole collection is compared right after it. */
  failed: boolean;
}

/** Read BSON numbers as Int32 / Double / Long, so that a type change is seen. */
export const EXACT_TYPES = { promoteValues: false, promoteLongs: false } as const;

const UNICODE = ['grüße', 'ключ', '鍵', '🔑🗝️', 'e\u0301', 'tab\tand\nnewline', '', 'plain'];
const DOTTED = ['dotted.name', 'a.b.c', 'x.'];

/** Odd _id types from a fixed pool, so that inserts collide and updates find their documents. */
function idPool(random: () => number): unknown[] {
  const hex = () => Array.from({ length: 24 }, () => Math.floor(random() * 16).toString(16)).join('');
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  return [
    ...Array.from({ length: 12 }, (_, i) => new Int32(i)),
    ...Array.from({ length: 4 }, (_, i) => Long.fromNumber(2 ** 40 + i)),
    ...Array.from({ length: 4 }, (_, i) => new Double(i + 0.5)),
    ...UNICODE.map((s) => `id-${s}`),
    'a.b', '$notAnOperator',
    ...Array.from({ length: 6 }, () => new ObjectId(hex())),
    { k: new Int32(1), s: 'x' }, { s: 'x', k: new Int32(1) }, { nested: { deeper: [new Int32(1), 'two'] } },
    new Date(Date.UTC(2024, 1, 29, 12)), new Date(0),
    new UUID(bytes(16).toString('hex')).toBinary(), new Binary(bytes(5), 0),
  ];
}

export class OperationScript {
  private readonly ids: unknown[];

  constructor(
    private readonly random: () => number,
    private readonly collection: Collection,
    /** One session for every operation: its operationTime tells the newest event after each. */
    private readonly session: ClientSession,
  ) {
    this.ids = idPool(random);
  }

  private int(n: number): number {
    return Math.floor(this.random() * n);
  }

  private chance(p: number): boolean {
    return this.random() < p;
  }

  private pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }

  private id(): unknown {
    return this.pick(this.ids);
  }

  private scalar(): unknown {
    return this.pick([
      () => new Int32(this.int(100) - 50), () => new Double(this.int(1000) / 8), () => Long.fromNumber(2 ** 35 * this.int(9)),
      () => this.pick(UNICODE), () => this.chance(0.5), () => null, () => new Date(Date.UTC(2025, 0, 1 + this.int(300))),
    ])();
  }

  private value(depth = 0): unknown {
    if (depth < 2 && this.chance(0.2)) return this.subdocument(depth + 1);
    if (depth < 2 && this.chance(0.15)) return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
    return this.scalar();
  }

  /** Nested names may be dotted or $-prefixed (MongoDB 5.0+ stores them). */
  private subdocument(depth: number): Document {
    const document: Document = { x: this.value(depth) };
    if (this.chance(0.3)) document['k.l'] = this.value(depth);
    if (this.chance(0.3)) document.$dollar = this.value(depth);
    if (this.chance(0.3)) document[this.pick(UNICODE)] = this.value(depth);
    return document;
  }

  /** A document for insert or replace; `topLevelDollar` adds a $-prefixed top-level name (fine for an insert). */
  document(id?: unknown, topLevelDollar = false): Document {
    const document: Document = id === undefined ? {} : { _id: id };
    document.grp = new Int32(this.int(4));
    document.count = this.chance(0.5) ? new Int32(this.int(100)) : new Double(this.int(100) + 0.25);
    document.label = this.pick(UNICODE);
    if (this.chance(0.5)) document[this.pick(DOTTED)] = this.value();
    if (this.chance(0.5)) document.sub = this.subdocument(1);
    if (this.chance(0.6)) document.arr = Array.from({ length: this.int(5) }, () => new Int32(this.int(6)));
    if (this.chance(0.3)) document.tags = Array.from({ length: this.int(3) }, () => this.pick(UNICODE));
    if (topLevelDollar) document.$top = this.value();
    return document;
  }

  /** One or two operators; some combinations conflict or fail (a refused write must change nothing). */
  private update(): UpdateFilter<Document> {
    const parts: [string, Document][] = [];
    for (let n = 1 + this.int(2); n > 0; n--) {
      parts.push(this.pick<() => [string, Document]>([
        () => ['$set', { label: this.pick(UNICODE) }],
        () => ['$set', { [this.pick(['sub.x', 'sub.y.z', 'dotted.name', 'a.b.c', 'arr.1', 'fresh'])]: this.value() }],
        () => ['$set', { sub: this.subdocument(1) }],
        () => ['$unset', { [this.pick(['label', 'sub.x', 'sub', 'arr.0', 'dotted.name', 'tags'])]: '' }],
        () => ['$inc', { [this.pick(['count', 'count', 'label'])]: new Int32(this.int(7) - 3) }],
        () => ['$mul', { count: new Double(1.5) }],
        () => [this.pick(['$min', '$max']), { count: new Int32(this.int(100)) }],
        () => ['$push', { arr: this.chance(0.5) ? new Int32(this.int(6)) : { $each: [new Int32(1), new Int32(2)] } }],
        () => ['$addToSet', { tags: this.pick(UNICODE) }],
        () => ['$pull', { arr: new Int32(this.int(6)) }],
        () => ['$pop', { arr: this.chance(0.5) ? 1 : -1 }],
        () => ['$rename', { label: 'renamed' }],
        () => ['$inc', { 'arr.$[]': new Int32(1) }],
        () => ['$set', { [this.pick(['$dollarPath', '_id'])]: this.value() }],
      ])());
    }
    const update: Document = {};
    for (const [operator, fields] of parts) update[operator] = { ...(update[operator] as Document | undefined), ...fields };
    return update;
  }

  /** Updates that cannot fail half-way through an updateMany (so its modifiedCount is exact). */
  private safeManyUpdate(): UpdateFilter<Document> {
    return this.pick<() => UpdateFilter<Document>>([
      () => ({ $set: { label: this.pick(UNICODE), fresh: this.value() } }),
      () => ({ $inc: { count: new Int32(this.int(5) + 1) } }),
      () => ({ $set: { 'sub.many': this.value() } }),
    ])();
  }

  /** A replacement; now and then one MongoDB refuses: a $-prefixed top-level name, or a changed _id. */
  private replacement(): Document {
    const replacement = this.document(undefined, this.chance(0.08));
    if (this.chance(0.05)) replacement._id = this.id();
    return replacement;
  }

  private byId(): Filter<Document> {
    return { _id: this.id() } as Filter<Document>;
  }

  private byGroup(): Filter<Document> {
    return { grp: new Int32(this.int(4)) };
  }

  private bulkOperation(): AnyBulkWriteOperation<Document> {
    return this.pick<() => AnyBulkWriteOperation<Document>>([
      () => ({ insertOne: { document: this.document(this.id(), this.chance(0.1)) } }),
      () => ({ insertOne: { document: this.document(this.id()) } }),
      () => ({ updateOne: { filter: this.byId(), update: this.update(), upsert: this.chance(0.3) } }),
      () => ({ updateMany: { filter: this.byGroup(), update: this.safeManyUpdate() } }),
      () => ({ replaceOne: { filter: this.byId(), replacement: this.replacement(), upsert: this.chance(0.3) } }),
      () => ({ deleteOne: { filter: this.byId() } }),
    ])();
  }

  /** Runs one random operation and records what the driver acknowledged. */
  async next(): Promise<OperationRecord> {
    const kind = this.int(100);
    if (kind < 14) {
      const document = this.document(this.id(), this.chance(0.1));
      return this.run(`insertOne ${describe(document)}`, async () => {
        await this.collection.insertOne(document, { session: this.session });
        return { inserts: 1, updates: 0, deletes: 0 };
      });
    }
    if (kind < 22) {
      const documents = Array.from({ length: 2 + this.int(5) }, () => this.document(this.id()));
      const ordered = this.chance(0.5);
      return this.run(`insertMany ordered=${ordered} ${describe(documents)}`, async () => {
        const result = await this.collection.insertMany(documents, { ordered, session: this.session });
        return { inserts: result.insertedCount, updates: 0, deletes: 0 };
      });
    }
    if (kind < 42) {
      const filter = this.chance(0.15) ? { ...this.byId(), arr: new Int32(this.int(6)) } : this.byId();
      const update = 'arr' in filter && this.chance(0.7) ? { $set: { 'arr.$': new Int32(this.int(9)) } } : this.update();
      const upsert = this.chance(0.2);
      return this.run(`updateOne ${describe(filter)} ${describe(update)} upsert=${upsert}`, async () => {
        const result = await this.collection.updateOne(filter, update, { upsert, session: this.session });
        return { inserts: result.upsertedCount, updates: result.modifiedCount, deletes: 0 };
      });
    }
    if (kind < 48) {
      const filter = this.byGroup();
      const update = this.safeManyUpdate();
      return this.run(`updateMany ${describe(filter)} ${describe(update)}`, async () => {
        const result = await this.collection.updateMany(filter, update, { session: this.session });
        return { inserts: 0, updates: result.modifiedCount, deletes: 0 };
      });
    }
    if (kind < 60) {
      const filter = this.byId();
      const replacement = this.replacement();
      const upsert = this.chance(0.2);
      return this.run(`replaceOne ${describe(filter)} ${describe(replacement)} upsert=${upsert}`, async () => {
        const result = await this.collection.replaceOne(filter, replacement, { upsert, session: this.session });
        return { inserts: result.upsertedCount, updates: result.modifiedCount, deletes: 0 };
      });
    }
    if (kind < 68) {
      const filter = this.byId();
      return this.run(`deleteOne ${describe(filter)}`, async () => {
        const result = await this.collection.deleteOne(filter, { session: this.session });
        return { inserts: 0, updates: 0, deletes: result.deletedCount };
      });
    }
    if (kind < 70) {
      const filter = this.byGroup();
      return this.run(`deleteMany ${describe(filter)}`, async () => {
        const result = await this.collection.deleteMany(filter, { session: this.session });
        return { inserts: 0, updates: 0, deletes: result.deletedCount };
      });
    }
    if (kind < 85) return this.findAndModify();
    const operations = Array.from({ length: 3 + this.int(6) }, () => this.bulkOperation());
    const ordered = this.chance(0.5);
    return this.run(`bulkWrite ordered=${ordered} ${describe(operations)}`, async () => {
      let result: BulkWriteResult;
      try {
        result = await this.collection.bulkWrite(operations, { ordered, session: this.session });
      } catch (error) {
        if (!(error instanceof MongoBulkWriteError)) throw error;
        return { ...bulkCounts(error.result), failed: true };
      }
      return bulkCounts(result);
    });
  }

  private async findAndModify(): Promise<OperationRecord> {
    const filter = this.chance(0.8) ? this.byId() : this.byGroup();
    const sort = { count: -1 as const, _id: 1 as const };
    const kind = this.pick(['update', 'replace', 'delete'] as const);
    const upsert = kind !== 'delete' && this.chance(0.25);
    const returnDocument = this.pick(['before', 'after'] as const);
    const options = { sort, upsert, returnDocument, includeResultMetadata: true as const, session: this.session, ...EXACT_TYPES };
    const update = kind === 'update' ? this.update() : this.replacement();
    const description = `findOneAnd${kind} ${describe(filter)} ${kind === 'delete' ? '' : describe(update)} ${describe({ sort, upsert, returnDocument })}`;
    try {
      const result = kind === 'delete'
        ? await this.collection.findOneAndDelete(filter, { sort, includeResultMetadata: true, session: this.session, ...EXACT_TYPES })
        : kind === 'update'
          ? await this.collection.findOneAndUpdate(filter, update, options)
          : await this.collection.findOneAndReplace(filter, update, options);
      const lastError = result.lastErrorObject ?? {};
      if (kind === 'delete') {
        return { description, expected: { inserts: 0, updates: 0, deletes: Number(lastError.n) }, failed: false };
      }
      if (lastError.upserted !== undefined) {
        return { description, expected: { inserts: 1, updates: 0, deletes: 0 }, failed: false };
      }
      if (!lastError.updatedExisting) return { description, expected: { inserts: 0, updates: 0, deletes: 0 }, failed: false };
      const id = (result.value as Document)._id;
      const after = await this.collection.findOne({ _id: id } as Filter<Document>, { session: this.session, ...EXACT_TYPES });
      return {
        description,
        expected: { inserts: 0, updates: 0, deletes: 0 },
        changed: { id, before: returnDocument === 'before' ? result.value ?? undefined : undefined, after },
        failed: false,
      };
    } catch (error) {
      if (!(error instanceof MongoServerError)) throw error;
      return { description: `${description} -> ${error.code}`, expected: { inserts: 0, updates: 0, deletes: 0 }, failed: true };
    }
  }

  /** A refused write (a server error) must produce no event; a bulk error reports what was done before it. */
  private async run(description: string, write: () => Promise<EventCounts & { failed?: boolean }>): Promise<OperationRecord> {
    try {
      const { failed = false, ...expected } = await write();
      return { description, expected, failed };
    } catch (error) {
      if (error instanceof MongoBulkWriteError) {
        return { description: `${description} -> ${error.code}`, expected: bulkCounts(error.result), failed: true };
      }
      if (!(error instanceof MongoServerError)) throw error;
      return { description: `${description} -> ${error.code}`, expected: { inserts: 0, updates: 0, deletes: 0 }, failed: true };
    }
  }
}

function bulkCounts(result: BulkWriteResult): EventCounts {
  return { inserts: result.insertedCount + result.upsertedCount, updates: result.modifiedCount, deletes: result.deletedCount };
}

function describe(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}
