import { isIP } from 'node:net';
import { oneQuery, QueryTimeout, type QueryResult } from '@cdc/analysis-tool';
import { gcpErrorInfo } from '@cdc/core/gcp';

/** What the handler reads of a request to /api/query. */
export interface QueryRequest {
  method: string;
  headers: Record<string, string | string[] | undefined>;
  /** the body, or null when it was longer than MAX_BODY_BYTES */
  body: string | null;
}

export interface QueryAnswer {
  status: number;
  body: { result: QueryResult } | { error: string; refused?: true };
}

/** The query box's SQL is short: a longer body is refused before it is read whole. */
export const MAX_BODY_BYTES = 16 * 1024;

const header = (request: QueryRequest, name: string) => {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

/**
 * Whether the request comes from the console's own page: a browser puts the page's origin on every POST, and a
 * page elsewhere cannot send JSON here without a CORS preflight, which the console never grants. The host must be
 * an address or localhost, so that a name pointed at the loopback by another site (DNS rebinding) does not make
 * that site's page "same origin".
 */
function foreignRequest(request: QueryRequest): string | null {
  const host = header(request, 'host');
  const hostname = host ? new URL(`http://${host}`).hostname.replace(/^\[|\]$/g, '') : '';
  if (!hostname || (hostname !== 'localhost' && isIP(hostname) === 0)) return 'the console is reached by its address (127.0.0.1 or localhost), not by a name';
  if (header(request, 'origin') !== `http://${host}`) return 'only the console\'s own page may run queries (the request\'s Origin is not the console)';
  const site = header(request, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin') return 'only the console\'s own page may run queries (not a same-origin request)';
  if (!/^application\/json\b/.test(header(request, 'content-type') ?? '')) return 'the query comes as JSON (content-type application/json)';
  return null;
}

/** The error as the page shows it: BigQuery's own message, or that it did not answer (no endpoint address, no request). */
export function describeBigQueryError(error: unknown): string {
  if (error instanceof QueryTimeout) return `BigQuery gave ${error.message}`;
  const info = gcpErrorInfo(error);
  if (info.errno) return `BigQuery did not answer (${info.errno})`;
  return `${info.status ? `HTTP ${info.status}${info.reason ? ` ${info.reason}` : ''}: ` : ''}${info.message}`;
}

/**
 * POST /api/query {"sql": "SELECT ..."}: one read-only query through the analysis tool's code (its statement check
 * refuses anything but a query before BigQuery sees it; its runner bounds the rows, the time and the bytes billed),
 * one at a time.
 */
export class QueryBox {
  private running = false;

  constructor(private readonly run: (sql: string) => Promise<QueryResult>) {}

  async handle(request: QueryRequest): Promise<QueryAnswer> {
    if (request.method !== 'POST') return { status: 405, body: { error: 'queries are POSTed' } };
    const foreign = foreignRequest(request);
    if (foreign) return { status: 403, body: { error: foreign } };
    if (request.body === null) return { status: 413, body: { error: `the query is longer than ${MAX_BODY_BYTES / 1024} KiB` } };
    let sql: unknown;
    try {
      sql = (JSON.parse(request.body) as { sql?: unknown }).sql;
    } catch {
      sql = undefined;
    }
    if (typeof sql !== 'string') return { status: 400, body: { error: 'the body is {"sql": "SELECT ..."}' } };
    if (this.running) return { status: 429, body: { error: 'a query is running: one at a time' } };
    // the query's outcome, rows or why there are none (refused, BigQuery's error), answers 200: the request was fine
    const statement = oneQuery(sql);
    if ('refused' in statement) return { status: 200, body: { error: `Refused: ${statement.refused}`, refused: true } };
    this.running = true;
    try {
      return { status: 200, body: { result: await this.run(statement.query) } };
    } catch (error) {
      return { status: 200, body: { error: describeBigQueryError(error) } };
    } finally {
      this.running = false;
    }
  }
}
