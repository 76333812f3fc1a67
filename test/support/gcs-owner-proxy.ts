// An HTTP test double in front of the Cloud Storage emulator: forwards every request, except that a bucket's
// metadata names another project as its owner. The emulator reports project number 0 for every bucket, so a
// bucket owned by a stranger (what a global name such as `cdc-staging` would find on Google Cloud) exists only here.
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OwnerProxy {
  endpoint: string;
  /** bucket metadata answers rewritten so far */
  rewritten: number;
  close(): Promise<void>;
}

/** A bucket's own resource (`/storage/v1/b/<name>`), not its objects nor the bucket list. */
const BUCKET_RESOURCE = /^\/storage\/v1\/b\/[^/]+$/;

export async function startOwnerProxy(target: string, ownerProjectNumber: string): Promise<OwnerProxy> {
  const upstream = new URL(target);
  const proxy: OwnerProxy = { endpoint: '', rewritten: 0, close: () => Promise.resolve() };
  const server: Server = createServer((req, res) => {
    const isBucketGet = req.method === 'GET' && BUCKET_RESOURCE.test(new URL(req.url ?? '/', 'http://x').pathname);
    const forward = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      if (!isBucketGet || answer.statusCode !== 200) {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = JSON.stringify({ ...(JSON.parse(Buffer.concat(chunks).toString('utf8')) as object), projectNumber: ownerProjectNumber });
        proxy.rewritten++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
    });
    forward.on('error', (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  proxy.close = () => new Promise((resolve) => server.close(() => resolve()));
  return proxy;
}
