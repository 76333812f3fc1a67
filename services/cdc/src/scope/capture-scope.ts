import { createHash } from 'node:crypto';
import type { Document, MongoClient } from 'mongodb';
import type { CdcConfig } from '../config.js';

/** Databases of MongoDB itself: never captured. */
const SYSTEM_DATABASES = ['admin', 'local', 'config'];

type ScopeConfig = Pick<
  CdcConfig,
  'CDC_CAPTURE_SCOPE' | 'CDC_CAPTURE_DATABASE' | 'CDC_DATABASE_INCLUDE' | 'CDC_DATABASE_EXCLUDE' | 'CDC_COLLECTION_INCLUDE' | 'CDC_COLLECTION_EXCLUDE' | 'CDC_INSTANCE_INDEX' | 'CDC_INSTANCE_COUNT' | 'CDC_PARTITION_MODE'
>;

const whole = (pattern: string) => new RegExp(`^(?:${pattern})$`);

/**
 * Which collections a database or deployment scope captures: the patterns (whole names), never a system database
 * or a system.* collection, and with several instances splitting by collection, this instance's share (a hash of
 * the namespace, the same on every instance).
 */
export class CaptureScope {
  readonly kind: 'database' | 'deployment';
  private readonly database: string | null;
  private readonly dbInclude: RegExp;
  private readonly dbExclude: RegExp | null;
  private readonly collInclude: RegExp;
  private readonly collExclude: RegExp | null;

  constructor(private readonly config: ScopeConfig) {
    if (config.CDC_CAPTURE_SCOPE === 'collection') throw new Error('a capture scope is database or deployment');
    this.kind = config.CDC_CAPTURE_SCOPE;
    this.database = this.kind === 'database' ? config.CDC_CAPTURE_DATABASE : null;
    this.dbInclude = whole(config.CDC_DATABASE_INCLUDE);
    this.dbExclude = config.CDC_DATABASE_EXCLUDE === '' ? null : whole(config.CDC_DATABASE_EXCLUDE);
    this.collInclude = whole(config.CDC_COLLECTION_INCLUDE);
    this.collExclude = config.CDC_COLLECTION_EXCLUDE === '' ? null : whole(config.CDC_COLLECTION_EXCLUDE);
  }

  /** The scope's stream: its checkpoint key and transactional id. */
  get streamId(): string {
    const { CDC_INSTANCE_INDEX: index, CDC_INSTANCE_COUNT: count } = this.config;
    const base = this.database === null ? 'deployment' : `database:${this.database}`;
    return count > 1 ? `${base}#${index}of${count}` : base;
  }

  /** Whether the scope captures the database at all. */
  coversDatabase(db: string): boolean {
    if (SYSTEM_DATABASES.includes(db)) return false;
    if (this.database !== null) return db === this.database;
    return this.dbInclude.test(db) && !this.dbExclude?.test(db);
  }

  /** Whether this instance captures the collection. */
  captures(db: string, coll: string): boolean {
    const ns = `${db}.${coll}`;
    if (!this.coversDatabase(db) || coll.startsWith('system.')) return false;
    if (!this.collInclude.test(ns) || this.collExclude?.test(ns)) return false;
    return this.isMine(ns);
  }

  /** Instances split by collection: a hash of the namespace; split by document key: every instance sees every collection. */
  private isMine(ns: string): boolean {
    const { CDC_INSTANCE_INDEX: index, CDC_INSTANCE_COUNT: count, CDC_PARTITION_MODE: mode } = this.config;
    if (count === 1 || mode === 'hash') return true;
    return createHash('sha256').update(ns).digest().readUInt32BE(0) % count === index;
  }

  /**
   * The stream's filter on the server: the scope's databases (a database stream has its own already). Events
   * without a database of their own (invalidate) pass; a rename passes when either side's database is covered.
   * The collection patterns are checked by the cdc on each event (MongoDB's $regexMatch on the joined name would
   * do it on the server, from 4.2 on).
   */
  matchStage(): Document {
    const databases = this.database !== null ? this.database : { $nin: SYSTEM_DATABASES, $regex: this.dbInclude.source };
    return { $match: { $or: [{ operationType: 'invalidate' }, { 'ns.db': databases }, { 'to.db': databases }] } };
  }

  /** The collections captured now (listDatabases, listCollections; views left out). */
  async existing(client: MongoClient): Promise<{ db: string; coll: string }[]> {
    const databases = this.database !== null ? [this.database] : (await client.db('admin').admin().listDatabases({ nameOnly: true })).databases.map((d) => d.name);
    const found: { db: string; coll: string }[] = [];
    for (const db of databases.filter((name) => this.coversDatabase(name)).sort()) {
      const collections = await client.db(db).listCollections({ type: 'collection' }, { nameOnly: true }).toArray();
      for (const { name } of collections.sort((a, b) => a.name.localeCompare(b.name))) if (this.captures(db, name)) found.push({ db, coll: name });
    }
    return found;
  }
}
