// An HTTP test double in front of the BigQuery emulator: forwards every request, except that it refuses load-job
// requests the way BigQuery does while told to (no real component produces these errors on demand): quota and
// rate limits, which go away by themselves, and permission and billing refusals, which last until an operator acts.
// It can also leave requests unanswered (a BigQuery that accepts the connection and hangs).
import { createServer, type Server, type ServerResponse } from 'node:http';
import { forward, listenLocally, readBody } from './http-double.js';

/** How BigQuery refuses a load: an HTTP error on the request, or a job that ends DONE with an errorResult. */
const REFUSALS = {
  quotaExceeded: { as: 'request', status: 403, message: 'Quota exceeded: Your table exceeded quota for imports or query appends per table' },
  rateLimitExceeded: { as: 'job', status: 200, message: 'Exceeded rate limits: too many table update operations for this table' },
  accessDenied: { as: 'request', status: 403, message: 'Access Denied: Table local-project:d.t: Permission bigquery.tables.updateData denied on table (or it may not exist).' },
  billingNotEnabled: { as: 'job', status: 200, message: 'Billing has not been enabled for this project. Enable billing at https://console.cloud.google.com/billing.' },
} as const;

export type LoadRefusal = keyof typeof REFUSALS;

export interface FaultProxy {
  endpoint: string;
  /** load-job requests still to refuse */
  failLoads: number;
  /** the refusals used in turn, one per refused request (default: quotaExceeded, then rateLimitExceeded) */
  refusals: LoadRefusal[];
  /** load-job requests refused so far */
  refused: number;
  /** load-job requests forwarded to the emulator */
  forwarded: number;
  /** load-job requests still to leave unanswered, not forwarded (no job is made) */
  hangLoads: number;
  /**
   * statement jobs whose SQL starts with `startingWith` still to leave unanswered: forwarded, so the statement runs
   * and commits, but the answer is withheld (a statement that commits after its caller gave up)
   */
  hangStatements: { startingWith: string; count: number };
  /** requests left unanswered so far */
  hung: number;
  close(): Promise<void>;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  const proxy: FaultProxy = { endpoint: '', failLoads: 0, refusals: ['quotaExceeded', 'rateLimitExceeded'], refused: 0, forwarded: 0, hangLoads: 0, hangStatements: { startingWith: '', count: 0 }, hung: 0, close: () => Promise.resolve() };
  const unanswered = new Set<ServerResponse>();
  const hang = (res: ServerResponse) => {
    proxy.hung++;
    unanswered.add(res);
  };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const isJob = req.method === 'POST' && /\/projects\/[^/]+\/jobs$/.test(new URL(req.url ?? '/', 'http://x').pathname);
    const isLoadJob = isJob && body.includes('"load"');
    if (isLoadJob && proxy.hangLoads > 0) {
      proxy.hangLoads--;
      return hang(res);
    }
    const statement = isJob ? (JSON.parse(body.toString('utf8')) as { configuration?: { query?: { query?: string } } }).configuration?.query?.query : undefined;
    if (statement?.trimStart().startsWith(proxy.hangStatements.startingWith) && proxy.hangStatements.count > 0) {
      proxy.hangStatements.count--;
      forward(upstream, req, res, body, (answer) => (answer.resume(), true));
      return hang(res);
    }
    if (isLoadJob) {
      if (proxy.failLoads > 0) {
        proxy.failLoads--;
        const reason = proxy.refusals[proxy.refused % proxy.refusals.length]!;
        proxy.refused++;
        const { as, status, message } = REFUSALS[reason];
        const job = JSON.parse(body.toString('utf8')) as { jobReference?: { projectId?: string; jobId?: string } };
        res.writeHead(status, { 'content-type': 'application/json' });
        if (as === 'request') {
          res.end(JSON.stringify({ error: { code: status, message, errors: [{ reason, domain: 'global', message }], status: 'PERMISSION_DENIED' } }));
        } else {
          const errorResult = { reason, message };
          res.end(JSON.stringify({ kind: 'bigquery#job', id: `${job.jobReference?.projectId}:US.${job.jobReference?.jobId}`, jobReference: { ...job.jobReference, location: 'US' }, status: { state: 'DONE', errorResult, errors: [errorResult] } }));
        }
        return;
      }
      proxy.forwarded++;
    }
    forward(upstream, req, res, body);
  });
  const listening = await listenLocally(server);
  proxy.endpoint = listening.endpoint;
  proxy.close = () => {
    for (const res of unanswered) res.destroy();
    return listening.close();
  };
  return proxy;
}
