import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Logger } from '../logging/logger.js';
import type { Readiness } from './readiness.js';

export interface OpsServerOptions {
  service: string;
  port: number;
  /** the address to listen on (HTTP_BIND_ADDRESS: the loopback unless told otherwise) */
  host: string;
  logger: Logger;
  /** Ready means "doing useful work": connected to its sources and sinks. */
  readiness: Readiness;
  registry?: Registry;
}

export interface OpsServer {
  registry: Registry;
  /** the address it listens on */
  address: string;
  port: number;
  /** Adds what `detail` returns to the /readyz answer (for an operator reading it; readiness stays the checks'). */
  setReadyDetail(detail: () => Record<string, unknown>): void;
  /** Serves the paths other than /healthz, /readyz and /metrics (the console's page); 404 without it. */
  setFallbackHandler(handler: (req: IncomingMessage, res: ServerResponse, path: string) => void): void;
  close(): Promise<void>;
}

/** /healthz (process alive), /readyz (connected and working), /metrics (Prometheus text format). */
export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const registry = options.registry ?? new Registry();
  let readyDetail: () => Record<string, unknown> = () => ({});
  let fallback: (req: IncomingMessage, res: ServerResponse, path: string) => void = (_req, res) => void res.writeHead(404).end();
  registry.setDefaultLabels({ service: options.service });
  collectDefaultMetrics({ register: registry });
  const { readiness } = options;
  new Gauge({
    name: `${options.service.replaceAll('-', '_')}_not_ready`,
    help: '1 per reason /readyz answers 503 for (check: starting, stopping, or a named check such as load, kafka, volume)',
    labelNames: ['check'],
    registers: [registry],
    collect() {
      this.reset();
      for (const check of Object.keys(readiness.reasons())) this.set({ check }, 1);
    },
  });

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const reasons = readiness.reasons();
      const ready = Object.keys(reasons).length === 0;
      const answer = ready ? { ready, ...readyDetail() } : { ready, reasons, ...readyDetail() };
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    } else if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text))
        .catch((error: Error) => res.writeHead(500).end(error.message));
    } else {
      fallback(req, res, path);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  options.logger.info({ address, port }, 'ops http server listening (/healthz /readyz /metrics)');
  return {
    registry,
    address,
    port,
    setReadyDetail: (detail) => (readyDetail = detail),
    setFallbackHandler: (handler) => (fallback = handler),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
