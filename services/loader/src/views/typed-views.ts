import { loadParquetLibrary, withDeadlineOf, type Logger } from '@cdc/core';
import {
  collectFieldKinds,
  gcpErrorInfo,
  isRetriableGcpError,
  pairKey,
  parsePairKey,
  qualifiedTable,
  typedColumns,
  typedViewNames,
  typedViewStatements,
  type BigQuery,
  type Drift,
  type FieldRecord,
  type WarehouseNames,
} from '@cdc/core/gcp';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What one collection's views are made from: the (field, kind) pairs recorded in the fields table. */
interface CollectionState {
  known: Set<string>;
  records: FieldRecord[];
  /** the views match `records` (false until made once by this process) */
  applied: boolean;
}

export function createTypedViewMetrics(registry: Registry) {
  return {
    updates: new Counter({ name: 'loader_typed_view_updates_total', help: 'Typed views (re)created because fields were seen for the first time', labelNames: ['collection'], registers: [registry] }),
    newFields: new Counter({ name: 'loader_typed_view_new_fields_total', help: '(field, BSON type) pairs seen for the first time', labelNames: ['collection'], registers: [registry] }),
    drifts: new Counter({ name: 'loader_typed_view_type_drifts_total', help: 'Fields found with a second BSON type (widened, or given a raw JSON companion column)', labelNames: ['collection'], registers: [registry] }),
    driftedFields: new Gauge({ name: 'loader_typed_view_drifted_fields', help: 'Fields of the typed views that have more than one BSON type', labelNames: ['collection'], registers: [registry] }),
    errors: new Counter({ name: 'loader_typed_view_errors_total', help: 'Typed view updates that failed with a permanent error (the data is loaded; the view is tried again with the next file)', labelNames: ['collection'], registers: [registry] }),
  };
}

export type TypedViewMetrics = ReturnType<typeof createTypedViewMetrics>;

const driftKey = (d: Drift) => `${d.field} ${d.kinds.join(',')} ${d.companion ?? ''}`;

/**
 * Keeps one typed view of the current state and one of the change history per collection in step with the data.
 * The (field, kind) pairs seen are kept in a table of the dataset (a union: several loaders and restarts converge);
 * a view is re-created only when a file brings a pair not recorded yet, so most files cost no BigQuery call.
 */
export class TypedViews {
  private readonly collections = new Map<string, CollectionState>();
  /** one update at a time: the state of a collection is read, extended and applied in order */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly fieldsTable: string,
    private readonly location: string,
    private readonly metrics: TypedViewMetrics,
    private readonly logger: Logger,
    /** each statement done within this (LOADER_JOB_TIMEOUT_MS), else DeadlineExceeded (transient) */
    private readonly jobMs: number,
  ) {}

  private get table(): string {
    return qualifiedTable(this.names, this.fieldsTable);
  }

  private async query(query: string, params?: Record<string, unknown>, types?: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    const [rows] = await withDeadlineOf('BigQuery typed-view statement', this.jobMs, () =>
      this.bigquery.query({ query, location: this.location, ...(params ? { params } : {}), ...(types ? { types: types as Record<string, string> } : {}) }),
    );
    return rows as Record<string, unknown>[];
  }

  /** The fields table (idempotent). */
  async ensure(): Promise<void> {
    await this.query(`CREATE TABLE IF NOT EXISTS ${this.table} (
  coll STRING NOT NULL OPTIONS (description = 'source collection'),
  field STRING NOT NULL OPTIONS (description = 'path of the field as a JSON array of keys, null for an array element'),
  kind STRING NOT NULL OPTIONS (description = 'BSON type seen there (refined: numeric/bignumeric/decimalOutOfRange, date/dateOutOfRange)'),
  first_seen TIMESTAMP NOT NULL OPTIONS (description = 'when a loader first recorded it')
)
OPTIONS (description = 'Fields seen per collection and their BSON types: what the typed views are generated from')`);
  }

  /** The (field, kind) pairs of the documents in Parquet files, per collection, in the order first met. */
  static async fieldsOf(paths: readonly string[]): Promise<Map<string, Set<string>>> {
    const parquet = await loadParquetLibrary('@dsnp/parquetjs', true);
    const byCollection = new Map<string, Set<string>>();
    for (const path of paths) {
      const reader = await parquet.ParquetReader.openFile(path);
      try {
        const cursor = reader.getCursor([['coll'], ['op'], ['document']]);
        for (let row = await cursor.next(); row; row = await cursor.next()) {
          const document = row.document;
          // a snapshot-complete marker's document is a count, no document of the collection
          if (document === null || document === undefined || row.op === 'snapshot_complete') continue;
          const coll = String(row.coll);
          let pairs = byCollection.get(coll);
          if (!pairs) byCollection.set(coll, (pairs = new Set()));
          collectFieldKinds(JSON.parse(String(document)) as Record<string, unknown>, pairs);
        }
      } finally {
        await reader.close();
      }
    }
    return byCollection;
  }

  /**
   * Extends the views with the fields of these (local, loaded) Parquet files. Transient BigQuery errors are thrown
   * (the caller retries); a permanent one is logged and counted: the data is loaded, the view is tried again later.
   */
  async update(paths: readonly string[]): Promise<void> {
    let fields: Map<string, Set<string>>;
    try {
      fields = await TypedViews.fieldsOf(paths);
    } catch (error) {
      // The file is loaded already (BigQuery read it): a document the views cannot read must not stop loading.
      this.metrics.errors.inc({ collection: '' });
      this.logger.error({ files: paths, error: (error as Error).message }, 'typed views: cannot read the fields of the files; views not extended by them');
      return;
    }
    const run = this.queue.then(async () => {
      for (const [collection, pairs] of fields) {
        try {
          await this.updateCollection(collection, pairs);
        } catch (error) {
          if (isRetriableGcpError(error)) throw error;
          this.metrics.errors.inc({ collection });
          this.logger.error({ collection, error: gcpErrorInfo(error) }, 'typed views not updated (statement rejected); the data is loaded, the next file tries again');
        }
      }
    });
    this.queue = run.catch(() => undefined);
    await run;
  }

  private async readRecords(collection: string): Promise<FieldRecord[]> {
    const rows = await this.query(
      `SELECT kind, field, MIN(first_seen) AS first_seen FROM ${this.table} WHERE coll = @coll GROUP BY kind, field ORDER BY first_seen, kind, field`,
      { coll: collection },
    );
    const records: FieldRecord[] = [];
    for (const row of rows) {
      try {
        records.push(parsePairKey(`${String(row.kind)} ${String(row.field)}`));
      } catch (error) {
        this.logger.warn({ collection, kind: row.kind, field: row.field, error: (error as Error).message }, 'ignoring a row of the typed-view fields table that is not a field record');
      }
    }
    return records;
  }

  private async updateCollection(collection: string, pairs: Set<string>): Promise<void> {
    const views = typedViewNames(collection);
    const clash = [views.current, views.history].find((v) => [this.names.changesTable, this.names.currentTable, this.fieldsTable].some((t) => t.toLowerCase() === v.toLowerCase()));
    if (clash) throw new Error(`collection ${collection}: its typed view would be named ${clash}, the name of a table of the pipeline`);
    let state = this.collections.get(collection);
    if (!state) {
      const records = await this.readRecords(collection);
      state = { known: new Set(records.map((r) => pairKey(r.path, r.kind))), records, applied: false };
      this.collections.set(collection, state);
    }
    const fresh = [...pairs].filter((p) => !state.known.has(p));
    if (fresh.length === 0 && state.applied) return;
    const before = new Set(typedColumns(state.records).drifts.map(driftKey));
    if (fresh.length > 0) {
      // first_seen keeps the order the file met them (it decides which type a new field's column takes)
      await this.query(
        `INSERT INTO ${this.table} (coll, field, kind, first_seen)
SELECT @coll, SUBSTR(pair, STRPOS(pair, ' ') + 1), SPLIT(pair, ' ')[OFFSET(0)], TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL i MICROSECOND)
FROM UNNEST(@pairs) AS pair WITH OFFSET i`,
        { coll: collection, pairs: fresh },
        { coll: 'STRING', pairs: ['STRING'] },
      );
      // Read back: other loaders may have added pairs meanwhile.
      state.records = await this.readRecords(collection);
      state.known = new Set(state.records.map((r) => pairKey(r.path, r.kind)));
      this.metrics.newFields.inc({ collection }, fresh.length);
    }
    const { columns, drifts } = typedColumns(state.records);
    const statements = typedViewStatements(this.names, collection, columns);
    await Promise.all([this.query(statements.current), this.query(statements.history)]);
    state.applied = true;
    this.metrics.updates.inc({ collection });
    this.metrics.driftedFields.set({ collection }, drifts.length);
    const newFields = fresh.map((p) => parsePairKey(p)).map((r) => `${r.path.map((k) => k ?? '[]').join('.').replaceAll('.[]', '[]')}: ${r.kind}`);
    this.logger.info({ collection, views: [views.current, views.history], columns: columns.length, newFields }, 'typed views updated');
    for (const drift of drifts.filter((d) => !before.has(driftKey(d)))) {
      this.metrics.drifts.inc({ collection });
      this.logger.warn(
        { collection, field: drift.field, kinds: drift.kinds, column: drift.column, companion: drift.companion },
        drift.companion ? `field ${drift.field} has several BSON types: ${drift.column} keeps the typed values, ${drift.companion} every value as JSON` : `field ${drift.field} has several BSON types: ${drift.column} widened to hold them all exactly`,
      );
    }
  }
}
