import { runQuery, withDeadline, type QueryResult } from '@cdc/analysis-tool';
import { qualifiedTable, typedViewNames, type BigQuery, type WarehouseNames } from '@cdc/core/gcp';
import { describeBigQueryError } from './query-box.js';

/** A typed view the loader keeps for a collection: its name in SQL and, on Google Cloud, its page in the BigQuery console. */
export interface ViewLink {
  name: string;
  /** `project.dataset.view` in backticks */
  sql: string;
  /** null with an emulator (it has no web console) */
  url: string | null;
}

export interface WarehouseState {
  dataset: string;
  /** whether BigQuery answered the console's last reading (null: not read yet) */
  reading: { error: string | null } | null;
  /** per collection seen (db.collection), its typed views (current state, history) */
  views: { collection: string; current: ViewLink; history: ViewLink }[];
}

export interface WarehouseBounds {
  location: string;
  maximumBytesBilled: number;
  maxRows: number;
  queryTimeoutMs: number;
  /** how long the reading may take */
  readTimeoutMs: number;
}

/** BigQuery as the console sees it: whether it answers, the collections' typed views, and the query box's runner. */
export class Warehouse {
  private reading: { error: string | null } | null = null;

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly emulator: boolean,
    private readonly bounds: WarehouseBounds,
  ) {}

  /** One reading: the dataset's metadata (a free call), within readTimeoutMs. */
  async read(): Promise<void> {
    try {
      await withDeadline(this.bigquery.dataset(this.names.dataset).getMetadata(), this.bounds.readTimeoutMs, 'no answer');
      this.reading = { error: null };
    } catch (error) {
      this.reading = { error: describeBigQueryError(error) };
    }
  }

  /** One read-only query through the analysis tool's runner, with the console's bounds. */
  query(sql: string): Promise<QueryResult> {
    const { location, maximumBytesBilled, maxRows, queryTimeoutMs } = this.bounds;
    return runQuery(this.bigquery, this.names, { query: sql }, { location, maximumBytesBilled, maxRows, timeoutMs: queryTimeoutMs });
  }

  /** The collections a cdc streams (db.collection); the others (a topic only, phase unknown) have no known view. */
  state(collections: readonly { name: string; phase: string }[]): WarehouseState {
    const link = (view: string): ViewLink => ({
      name: view,
      sql: qualifiedTable(this.names, view),
      url: this.emulator ? null : `https://console.cloud.google.com/bigquery?${new URLSearchParams({ p: this.names.project, d: this.names.dataset, t: view, page: 'table' })}`,
    });
    const views = collections
      .filter((c) => c.phase !== 'unknown')
      .map(({ name }) => {
        const collection = name.slice(name.indexOf('.') + 1);
        const { current, history } = typedViewNames(collection);
        return { collection: name, current: link(current), history: link(history) };
      });
    return { dataset: this.names.dataset, reading: this.reading, views };
  }
}
