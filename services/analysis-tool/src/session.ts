import type { Writable } from 'node:stream';
import type { BigQuery } from '@cdc/core/gcp';
import { gcpErrorInfo, type WarehouseNames } from '@cdc/core/gcp';
import { formatDuration, formatTable, rowCount } from './format.js';
import { runQuery } from './run-query.js';
import { changingKeyword, notAQuery, splitStatements } from './statements.js';
import { dedupedChanges, duplicates, freshness, orderCurrent, orderHistory, ordersByStatusAndDay, orderViews, revenuePerDay, type OrderViews, type ReadyQuery } from './queries.js';

export interface SessionOptions {
  json: boolean;
  maxWidth: number;
  location: string;
  /** collection of the ready-made order commands (their typed views) */
  collection: string;
  /** DDL and DML allowed (--write); else only queries run */
  write: boolean;
  /** every query job fails instead of billing more than this */
  maximumBytesBilled: number;
}

export const HELP = `Type SQL ending with ';' (several lines are fine), or a command:
  \\tables                 tables and views of the dataset, with row counts
  \\schema <table>         columns, partitioning and clustering of a table
  \\by-status [days]       orders by status and day of their latest change (default: 30 days)
  \\revenue [days]         orders and revenue (SUM(total)) per day they first appeared (default: 30 days)
  \\order <id>             the current state of one order, typed (id: ObjectId hex, number, string or Extended JSON)
  \\order-history <id>     every change of one order, oldest first, typed (alias: \\history-of)
  \\freshness              how far the warehouse is behind MongoDB (now - newest change loaded)
  \\dups                   duplicate events (by event_id) in the changes table
  \\dedup                  print the query for the changes table without duplicates
  \\history                statements run in this session
  \\json                   switch between table and JSON output
  \\help                   this text
  \\q                      quit
Tables: qualify them with the dataset. The typed views (made by the loader) are the place to start:
  SELECT status, COUNT(*) AS orders, SUM(total) AS revenue FROM cdc.orders GROUP BY status;
  SELECT _op, _cluster_time, status, total FROM cdc.orders_history ORDER BY _cluster_time DESC LIMIT 10;
The exact documents (canonical Extended JSON) are in _document, and in cdc.orders_current / cdc.orders_changes.`;

/** Runs statements and commands against BigQuery, printing results; counts failures for the exit code. */
export class Session {
  readonly history: string[] = [];
  failures = 0;
  private readonly views: OrderViews;

  constructor(
    private readonly bigquery: BigQuery,
    private readonly names: WarehouseNames,
    private readonly out: Writable,
    private readonly err: Writable,
    private readonly options: SessionOptions,
  ) {
    this.views = orderViews(names, options.collection);
  }

  private print(text: string): void {
    this.out.write(`${text}\n`);
  }

  private async execute(ready: ReadyQuery, record?: string): Promise<boolean> {
    if (record) this.history.push(record);
    try {
      const { rows: plain, elapsedMs: elapsed } = await runQuery(this.bigquery, this.names, ready, { location: this.options.location, maximumBytesBilled: this.options.maximumBytesBilled });
      if (this.options.json) {
        this.print(JSON.stringify(plain, null, 2));
      } else {
        if (plain.length > 0) this.print(formatTable(plain, { maxWidth: this.options.maxWidth }));
        this.print(`(${rowCount(plain.length)}, ${formatDuration(elapsed)})`);
      }
      return true;
    } catch (error) {
      this.failures++;
      const info = gcpErrorInfo(error);
      this.err.write(`ERROR${info.status ? ` (HTTP ${info.status}${info.reason ? ` ${info.reason}` : ''})` : ''}: ${info.message}\n`);
      return false;
    }
  }

  /** Runs complete SQL statements (text split at `;`). */
  async runSql(text: string): Promise<void> {
    const { statements, rest } = splitStatements(text);
    if (rest.trim()) statements.push(rest.trim());
    for (const sql of statements) {
      const keyword = this.options.write ? null : changingKeyword(sql);
      if (keyword) {
        this.history.push(sql);
        this.failures++;
        this.err.write(`REFUSED: ${notAQuery(keyword)}; this session only reads (start it with --write to change data or tables)\n`);
      } else {
        await this.execute({ query: sql }, sql);
      }
    }
  }

  /** A backslash command; returns false when the session should end. */
  async runCommand(line: string): Promise<boolean> {
    const [command = '', ...args] = line.trim().split(/\s+/);
    const arg = line.trim().slice(command.length).trim();
    this.history.push(line.trim());
    switch (command) {
      case '\\q':
      case '\\quit':
        return false;
      case '\\help':
      case '\\?':
        this.print(HELP);
        break;
      case '\\history':
        this.history.pop();
        this.history.forEach((entry, k) => this.print(`${String(k + 1).padStart(4)}  ${entry.replace(/\s*\n\s*/g, ' ')}`));
        break;
      case '\\json':
        this.options.json = !this.options.json;
        this.print(`output: ${this.options.json ? 'JSON' : 'table'}`);
        break;
      case '\\tables':
        await this.tables();
        break;
      case '\\schema':
        if (!arg) this.usage('\\schema <table>');
        else await this.schema(arg);
        break;
      case '\\by-status': {
        const days = args[0] ? Number(args[0]) : 30;
        if (!Number.isInteger(days) || days <= 0) this.usage('\\by-status [days]');
        else await this.execute(ordersByStatusAndDay(this.views, days));
        break;
      }
      case '\\revenue': {
        const days = args[0] ? Number(args[0]) : 30;
        if (!Number.isInteger(days) || days <= 0) this.usage('\\revenue [days]');
        else await this.execute(revenuePerDay(this.views, days));
        break;
      }
      case '\\order':
        if (!arg) this.usage('\\order <id>');
        else await this.execute(orderCurrent(this.views, arg));
        break;
      case '\\order-history':
      case '\\history-of':
        if (!arg) this.usage('\\order-history <id>');
        else await this.execute(orderHistory(this.views, arg));
        break;
      case '\\freshness':
        await this.execute(freshness(this.names));
        break;
      case '\\dups':
        for (const query of duplicates(this.names)) await this.execute(query);
        break;
      case '\\dedup':
        this.print(`${dedupedChanges(this.names)};`);
        break;
      default:
        this.failures++;
        this.err.write(`unknown command ${command} (\\help lists them)\n`);
    }
    return true;
  }

  private usage(text: string): void {
    this.failures++;
    this.err.write(`usage: ${text}\n`);
  }

  private async tables(): Promise<void> {
    const started = performance.now();
    try {
      const [tables] = await this.bigquery.dataset(this.names.dataset).getTables();
      const rows = [];
      for (const table of tables) {
        const [metadata] = await table.getMetadata();
        rows.push({ table: `${this.names.dataset}.${table.id}`, type: metadata.type ?? '', rows: metadata.numRows === undefined ? null : Number(metadata.numRows), description: metadata.description ?? '' });
      }
      rows.sort((a, b) => a.table.localeCompare(b.table));
      this.print(this.options.json ? JSON.stringify(rows, null, 2) : formatTable(rows, { maxWidth: this.options.maxWidth, columns: ['table', 'type', 'rows', 'description'] }));
      if (!this.options.json) this.print(`(${rowCount(rows.length)}, ${formatDuration(performance.now() - started)})`);
    } catch (error) {
      this.failures++;
      this.err.write(`ERROR: ${gcpErrorInfo(error).message}\n`);
    }
  }

  private async schema(name: string): Promise<void> {
    const tableName = name.includes('.') ? name.slice(name.lastIndexOf('.') + 1) : name;
    try {
      const [metadata] = await this.bigquery.dataset(this.names.dataset).table(tableName.replace(/[`;]/g, '')).getMetadata();
      const fields = (metadata.schema?.fields ?? []).map((f: { name?: string; type?: string; mode?: string; description?: string }) => ({
        column: f.name ?? '',
        type: f.type ?? '',
        mode: f.mode ?? 'NULLABLE',
        description: f.description ?? '',
      }));
      if (this.options.json) {
        this.print(JSON.stringify({ table: tableName, type: metadata.type, timePartitioning: metadata.timePartitioning ?? null, clustering: metadata.clustering ?? null, fields }, null, 2));
        return;
      }
      this.print(formatTable(fields, { maxWidth: this.options.maxWidth, columns: ['column', 'type', 'mode', 'description'] }));
      if (metadata.timePartitioning) this.print(`partitioned by ${metadata.timePartitioning.type} on ${metadata.timePartitioning.field ?? '_PARTITIONTIME'}`);
      if (metadata.clustering?.fields?.length) this.print(`clustered by ${metadata.clustering.fields.join(', ')}`);
      if (metadata.numRows !== undefined && metadata.type !== 'VIEW') this.print(`${metadata.numRows} rows`);
    } catch (error) {
      this.failures++;
      this.err.write(`ERROR: ${gcpErrorInfo(error).message}\n`);
    }
  }
}
