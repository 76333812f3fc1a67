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
