// An HTTP test double in front of the BigQuery emulator: forwards every request, except that it answers load-job
// requests with BigQuery's quota and rate-limit errors while told to (no real component produces them on demand).
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface QuotaProxy {
  endpoint: string;
  /** load-job requests still to refuse: odd ones with 403 quotaExceeded, even ones as a job DONE with rateLimitExceeded */
  failLoads: number;
  /** load-job requests refused so far */
  refused: number;
  /** load-job requests forwarded to the emulator */
  forwarded: number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

export async function startQuotaProxy(target: string): Promise<QuotaProxy> {
  const upstream = new URL(target);
  const proxy: QuotaProxy = { endpoint: '', failLoads: 0, refused: 0, forwarded: 0, close: () => Promise.resolve() };
  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const isLoadJob = req.method === 'POST' && /\/projects\/[^/]+\/jobs$/.test(new URL(req.url ?? '/', 'http://x').pathname) && body.includes('"load"');
    if (isLoadJob) {
      if (proxy.failLoads > 0) {
        proxy.failLoads--;
        proxy.refused++;
        const job = JSON.parse(body.toString('utf8')) as { jobReference?: { projectId?: string; jobId?: string } };
        if (proxy.refused % 2 === 1) {
          res.writeHead(403, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 403, message: 'Quota exceeded: Your table exceeded quota for imports or query appends per table', errors: [{ reason: 'quotaExceeded', domain: 'global', message: 'Quota exceeded' }], status: 'PERMISSION_DENIED' } }));
        } else {
          res.writeHead(200, { 'content-type': 'application/json' });
          const errorResult = { reason: 'rateLimitExceeded', message: 'Exceeded rate limits: too many table update operations for this table' };
          res.end(JSON.stringify({ kind: 'bigquery#job', id: `${job.jobReference?.projectId}:US.${job.jobReference?.jobId}`, jobReference: { ...job.jobReference, location: 'US' }, status: { state: 'DONE', errorResult, errors: [errorResult] } }));
        }
        return;
      }
      proxy.forwarded++;
    }
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    forward.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
