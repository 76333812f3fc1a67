#!/usr/bin/env node
// The pipeline console: reads every service's /metrics and /readyz, server-side, every CONSOLE_POLL_INTERVAL_MS and
// serves one page (static files built by build-web.mjs into dist/public) with the state as JSON (/api/state); its
// query box POSTs one read-only query to /api/query, run through the analysis tool's code.
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage } from 'node:http';
import { runService } from '@cdc/core';
import { createGcpClients, warehouseNames } from '@cdc/core/gcp';
import { consoleAcls } from './acls.js';
import { readService } from './collector.js';
import { consoleConfigSchema, watchedServices } from './config.js';
import { KafkaReader } from './kafka-reader.js';
import { PipelineState } from './pipeline-state.js';
import { MAX_BODY_BYTES, QueryBox } from './query-box.js';
import { Warehouse } from './warehouse.js';

const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.png': 'image/png' };
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

await runService('console', consoleConfigSchema, async ({ config, logger, ops, shutdown, setReady }) => {
  const services = watchedServices(config.CONSOLE_SERVICES);
  const state = new PipelineState(
    services.map((s) => s.name),
    config.CONSOLE_POLL_INTERVAL_MS,
  );
  const timeoutMs = Math.max(1000, Math.min(config.CONSOLE_POLL_INTERVAL_MS, 5000));
  // the lag as Kafka keeps it: read-only admin calls (the client never joins a group or writes), in a child process
  const kafkaReader = new KafkaReader(logger);
  shutdown.register('kafka reader', () => kafkaReader.stop());
  let stopped = false;
  const readLag = () => kafkaReader.read(3 * timeoutMs);
  // BigQuery only: the Cloud Storage client made beside it is never used (no staging bucket, no call)
  const gcpConfig = { ...config, GCS_STAGING_MAX_AGE_DAYS: 0 };
  const warehouse = new Warehouse(createGcpClients(gcpConfig).bigquery, warehouseNames(gcpConfig), Boolean(config.BIGQUERY_ENDPOINT), {
    location: config.BQ_LOCATION,
    maximumBytesBilled: config.ANALYSIS_MAX_BYTES_BILLED,
    maxRows: config.CONSOLE_QUERY_MAX_ROWS,
    queryTimeoutMs: config.CONSOLE_QUERY_TIMEOUT_MS,
    readTimeoutMs: timeoutMs,
  });
  const queryBox = new QueryBox((sql) => warehouse.query(sql));
  const poll = async (): Promise<void> => {
    const [readings, kafka] = await Promise.all([Promise.all(services.map((s) => readService(s, timeoutMs))), readLag(), warehouse.read()]);
    state.record(readings, Date.now(), kafka);
  };
  const loop = (async () => {
    while (!stopped) {
      const started = Date.now();
      await poll().catch((error: unknown) => logger.warn({ err: error }, 'reading the services failed'));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, config.CONSOLE_POLL_INTERVAL_MS - (Date.now() - started))));
    }
  })();
  shutdown.register('console polling', async () => {
    stopped = true;
    await loop;
  });

  const json = { 'content-type': 'application/json', 'cache-control': 'no-store', ...SECURITY_HEADERS };
  ops.setFallbackHandler((req, res, path) => {
    if (path === '/api/query') {
      void readBody(req).then(async (body) => {
        const answer = await queryBox.handle({ method: req.method ?? '', headers: req.headers, body });
        res.writeHead(answer.status, { ...json, ...(answer.status === 405 ? { allow: 'POST' } : {}) }).end(JSON.stringify(answer.body));
      });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
    if (path === '/api/state') {
      const snapshot = state.snapshot();
      return void res.writeHead(200, json).end(JSON.stringify({ ...snapshot, warehouse: warehouse.state(snapshot.collections) }));
    }
    const file = normalize(join(PUBLIC_DIR, path === '/' ? 'index.html' : path));
    if (!file.startsWith(PUBLIC_DIR)) return void res.writeHead(404).end();
    readFile(file).then(
      (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...SECURITY_HEADERS }).end(body),
      () => res.writeHead(404).end(),
    );
  });
  logger.info({ url: `http://${ops.address}:${ops.port}/`, services }, 'console serving');
  setReady(true);
}, { topics: () => [], acls: consoleAcls });

/** The request's body as text, or null once it is longer than MAX_BODY_BYTES (the rest is not read). */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        resolve(null);
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', () => resolve(null));
  });
}
