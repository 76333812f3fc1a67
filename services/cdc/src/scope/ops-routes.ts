import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CollectionStatus } from './scope-collections.js';
import type { ResnapshotOutcome } from './snapshot-worker.js';
import { MAX_FILTER_BODY_BYTES, parseResnapshotBody } from './resnapshot-filter.js';

export interface ScopeOps {
  status(): { scope: string; collections: CollectionStatus[]; stream?: string };
  /** `filter`: canonical Extended JSON of the query filter limiting the copy, absent for the whole collection */
  resnapshot(ns: string, filter?: string): Promise<ResnapshotOutcome>;
}

const RESNAPSHOT = /^\/collections\/([^/]+)\/resnapshot$/;

const ANSWERS = {
  started: [202, 'copied again in chunks while the stream goes on; GET /collections shows its progress'],
  unknown: [404, 'not a collection of this scope (or its stream not started yet)'],
  snapshotting: [409, 'already being snapshotted'],
  ended: [409, 'ended by a drop or rename (stopped or dropped): not captured any more'],
} as const;

const json = (res: ServerResponse, status: number, body: unknown) => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/**
 * The scope's paths of the ops port: GET /collections (each collection's phase and progress) and
 * POST /collections/<db.collection>/resnapshot (body: optional `{"filter": {...}}`). The port listens on the loopback unless told otherwise; a request
 * carrying an Origin header (a browser, possibly a page of another site posting to the loopback) is refused, so
 * only a local client such as curl can ask for a re-snapshot.
 */
export function scopeOpsHandler(ops: ScopeOps, onError: (error: unknown) => void) {
  return (req: IncomingMessage, res: ServerResponse, path: string): void => {
    if (path === '/collections') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET' }).end();
      return json(res, 200, ops.status());
    }
    const match = RESNAPSHOT.exec(path);
    if (!match) return void res.writeHead(404).end();
    if (req.method !== 'POST') return void res.writeHead(405, { allow: 'POST' }).end();
    if (req.headers.origin !== undefined) return json(res, 403, { error: 'cross-origin requests are refused: ask from the host itself (e.g. curl -X POST)' });
    let ns: string;
    try {
      ns = decodeURIComponent(match[1]!);
    } catch {
      return json(res, 400, { error: 'the collection is not a valid URL path segment' });
    }
    readBody(req).then((body) => {
      if (body === null) return json(res, 413, { collection: ns, error: `the body is over ${MAX_FILTER_BODY_BYTES} bytes` });
      const parsed = parseResnapshotBody(body);
      if (!parsed.ok) return json(res, 400, { collection: ns, error: parsed.reason });
      ops.resnapshot(ns, parsed.filter).then(
        (outcome) => {
          const [status, message] = ANSWERS[outcome];
          json(res, status, { collection: ns, outcome, message, ...(parsed.filter === undefined ? {} : { filter: parsed.filter }) });
        },
        (error: unknown) => {
          json(res, 503, { collection: ns, error: 'the request could not be committed; the service stops' });
          onError(error);
        },
      );
    }, () => json(res, 400, { collection: ns, error: 'the body could not be read' }));
  };
}

/** The request's body as text; null once it grows over the limit. */
async function readBody(req: IncomingMessage): Promise<string | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_FILTER_BODY_BYTES) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}
