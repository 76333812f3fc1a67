import type { Collection, Document } from 'mongodb';
import { fromCanonicalJson, toCanonicalJson } from '@cdc/core';

/**
 * Reads a collection in _id order, one bounded batch at a time, resumable from the last _id emitted.
 * Note: `$gt` on _id compares within one BSON type bracket, so a collection whose _id values mix types
 * (ObjectId and strings, say) is only fully covered if the snapshot is not interrupted (README: limitations).
 */
export class SnapshotSource {
  private lastId: unknown;

  constructor(
    private readonly collection: Collection,
    private readonly batchSize: number,
    lastIdJson: string | null,
    /** only the documents matching it (a re-snapshot's condition) */
    private readonly filter?: Document,
  ) {
    this.lastId = lastIdJson === null ? undefined : fromCanonicalJson<{ v: unknown }>(`{"v":${lastIdJson}}`).v;
  }

  async nextBatch(): Promise<Document[]> {
    const after: Document = this.lastId === undefined ? {} : { _id: { $gt: this.lastId } };
    const filter = this.filter === undefined ? after : { $and: [this.filter, after] };
    const docs = await this.collection.find(filter, { promoteValues: false }).sort({ _id: 1 }).limit(this.batchSize).toArray();
    if (docs.length > 0) this.lastId = docs[docs.length - 1]!._id;
    return docs;
  }

  get lastIdJson(): string | null {
    return this.lastId === undefined ? null : toCanonicalJson(this.lastId);
  }
}
