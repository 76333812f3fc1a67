// An HTTP test double in front of the Cloud Storage emulator: forwards every request, except that a bucket's
// metadata names another project as its owner. The emulator reports project number 0 for every bucket, so a
// bucket owned by a stranger (what a global name such as `cdc-staging` would find on Google Cloud) exists only here.
import { createServer, type Server } from 'node:http';
import { forward, listenLocally, readBody } from './http-double.js';

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
  const server: Server = createServer(async (req, res) => {
    const isBucketGet = req.method === 'GET' && BUCKET_RESOURCE.test(new URL(req.url ?? '/', 'http://x').pathname);
    forward(upstream, req, res, await readBody(req), (answer) => {
      if (!isBucketGet || answer.statusCode !== 200) return false;
      void readBody(answer).then((metadata) => {
        const body = JSON.stringify({ ...(JSON.parse(metadata.toString('utf8')) as object), projectNumber: ownerProjectNumber });
        proxy.rewritten++;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      });
      return true;
    });
  });
  Object.assign(proxy, await listenLocally(server));
  return proxy;
}

export interface RefusingProxy {
  endpoint: string;
  /** requests for a bucket's metadata or its creation answered 403 so far */
  refused: number;
  close(): Promise<void>;
}

/**
 * An HTTP test double in front of the Cloud Storage emulator that lets no bucket be read or made: 403
 * accountDisabled, what Cloud Storage answers a project without billing. The rest is forwarded.
 */
export async function startBucketRefusingProxy(target: string): Promise<RefusingProxy> {
  const upstream = new URL(target);
  const proxy: RefusingProxy = { endpoint: '', refused: 0, close: () => Promise.resolve() };
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = await readBody(req);
    if ((req.method === 'GET' && BUCKET_RESOURCE.test(path)) || (req.method === 'POST' && path === '/storage/v1/b')) {
      proxy.refused++;
      const message = 'The billing account for the owning project is disabled in state absent';
      const answer = JSON.stringify({ error: { code: 403, message, errors: [{ domain: 'global', reason: 'accountDisabled', message }] } });
      res.writeHead(403, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
      return;
    }
    forward(upstream, req, res, body);
  });
  Object.assign(proxy, await listenLocally(server));
  return proxy;
}
