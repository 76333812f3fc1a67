// The bucket path against the volume path: the same changes through one processor and one loader, once with the
// Parquet files on a local directory both read (PROCESSOR_OUTPUT_DIR = LOADER_INPUT_DIR, the loader staging them in
// GCS_BUCKET), once through a bucket prefix (PROCESSOR_OUTPUT = LOADER_INPUT = gs://bucket/prefix, no shared path).
//
// Measured per path, the services started as real processes on the local infrastructure (Kafka, the Cloud Storage
// and BigQuery emulators):
//   - files/s and bytes/s of the processor: announced files and their bytes over the time from its readiness until
//     its group has committed the whole input;
//   - latency to visible: from a file's announcement to its rows in both tables (the loader's
//     loader_ready_to_visible_seconds, mean and max bucket), and the time until the loader committed everything;
//   - Cloud Storage requests per file, by operation class (A: uploads, lists, copies; B: metadata and media reads;
//     deletes are free), counted by an HTTP proxy in front of the emulator, separately for the processor and the loader.
//
//   npx tsc -b && node bench/dist/object-store.js [--events 20000] [--rows-per-file 1000] [--partitions 4]
//
// Results: bench/results/object-store-<timestamp>.json.
import { createServer } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodeChangeEvent } from '@cdc/core';
import { createGcpClients } from '@cdc/core/gcp';
import { infra } from '@cdc/tests/dist/support/infra.js';
import { testKafka } from '@cdc/tests/dist/support/kafka.js';
import { forward, listenLocally, readBody } from '@cdc/tests/dist/support/http-double.js';
import { loaderScenario, orderChange, pipelineProcessorEnv } from '@cdc/tests/dist/support/loader.js';
import { announcedFiles, createTopic, waitForCommittedToEnd } from '@cdc/tests/dist/support/processor.js';
import { metricValue, startService } from '@cdc/tests/dist/support/service-process.js';
import { fmt, now, saveResult } from './lib/common.js';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '20000' },
    'rows-per-file': { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '4' },
  },
});
const EVENTS = Number(args.events);
const PARTITIONS = Number(args.partitions);
const kafka = testKafka({ clientId: 'bench-object-store' });

type OperationClass = 'A' | 'B' | 'free';

/** The Cloud Storage operation class of a JSON API request (cloud.google.com/storage/pricing#operations-by-class). */
function operationClass(method: string, path: string): OperationClass {
  if (method === 'DELETE') return 'free';
  if (method === 'GET') return /\/o$/.test(path) || /\/b$/.test(path) ? 'A' : 'B';
  return 'A';
}

/** Counts the requests passing to the emulator, by class. */
async function countingProxy(target: string) {
  const upstream = new URL(target);
  const counts: Record<OperationClass, number> = { A: 0, B: 0, free: 0 };
  const byOperation = new Map<string, number>();
  const server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const kind = operationClass(req.method ?? 'GET', path);
    counts[kind]++;
    const operation = `${req.method} ${path.replace(/\/b\/[^/]+/g, '/b/{bucket}').replace(/\/o\/[^/]+/g, '/o/{object}')}`;
    byOperation.set(operation, (byOperation.get(operation) ?? 0) + 1);
    forward(upstream, req, res, await readBody(req));
  });
  const listening = await listenLocally(server);
  return { ...listening, counts, byOperation };
}

function changes(count: number) {
  return Array.from({ length: count }, (_, k) => orderChange(k % 3 === 0 ? 'insert' : 'update', 1 + (k % 997), { t: 1764151872 + k, i: 1 }, k + 1));
}

async function produceAll(topic: string): Promise<void> {
  const producer = kafka.producer({ kafkaJS: { acks: -1 } });
  await producer.connect();
  try {
    const all = changes(EVENTS);
    for (let i = 0; i < all.length; i += 500) {
      const messages = all.slice(i, i + 500).map((event, k) => ({ partition: (i + k) % PARTITIONS, key: event.document_id, value: encodeChangeEvent(event) }));
      await producer.send({ topic, messages });
    }
  } finally {
    await producer.disconnect();
  }
}

async function runPath(path: 'volume' | 'bucket') {
  const s = loaderScenario(`bench-${path}`);
  await createTopic(kafka, s.topic, PARTITIONS);
  await produceAll(s.topic);
  const processorProxy = await countingProxy(infra.gcsEndpoint);
  const loaderProxy = await countingProxy(infra.gcsEndpoint);
  const { storage } = createGcpClients(s.gcpConfig);
  const bucket = `${s.prefix}-in`;
  const uri = `gs://${bucket}/parquet`;
  if (path === 'bucket') await storage.createBucket(bucket);
  const processorEnv = pipelineProcessorEnv(s, 2);
  const processorGroup = processorEnv.PROCESSOR_GROUP_ID!;
  const processor = await startService('processor', {
    ...processorEnv,
    PROCESSOR_BATCH_MAX_ROWS: args['rows-per-file']!,
    PROCESSOR_BATCH_MAX_AGE_MS: '1000',
    ...(path === 'bucket'
      ? { PROCESSOR_OUTPUT: uri, PROCESSOR_OUTPUT_DIR: join(s.inputDir, 'processor-buffer'), GCS_ENDPOINT: processorProxy.endpoint, GCP_PROJECT: infra.bigqueryProject }
      : { PROCESSOR_OUTPUT_DIR: s.inputDir }),
  }, `bench-${path}-processor`);
  const loader = await startService('loader', s.env({ GCS_ENDPOINT: loaderProxy.endpoint, ...(path === 'bucket' ? { LOADER_INPUT: uri, LOADER_INPUT_DIR: join(s.inputDir, 'loader-work') } : {}) }), `bench-${path}-loader`);
  try {
    await loader.waitReady(120_000);
    const started = now();
    await processor.waitReady(120_000);
    await waitForCommittedToEnd(kafka, processorGroup, s.topic, 600_000);
    const processed = (now() - started) / 1000;
    await waitForCommittedToEnd(kafka, s.group, s.filesTopic, 600_000);
    const loaded = (now() - started) / 1000;
    const files = await announcedFiles(kafka, s.filesTopic);
    const bytes = files.reduce((n, f) => n + f.bytes, 0);
    const metrics = await loader.metrics();
    const visibleCount = metricValue(metrics, 'loader_ready_to_visible_seconds_count');
    const perFile = (counts: Record<OperationClass, number>) => ({ A: Number((counts.A / files.length).toFixed(2)), B: Number((counts.B / files.length).toFixed(2)), free: Number((counts.free / files.length).toFixed(2)) });
    return {
      path,
      files: files.length,
      bytes,
      processorSeconds: Number(processed.toFixed(1)),
      filesPerSecond: Number((files.length / processed).toFixed(2)),
      bytesPerSecond: Math.round(bytes / processed),
      loadedSeconds: Number(loaded.toFixed(1)),
      meanReadyToVisibleSeconds: Number((metricValue(metrics, 'loader_ready_to_visible_seconds_sum') / visibleCount).toFixed(2)),
      rowsLoaded: metricValue(metrics, 'loader_rows_loaded_total'),
      gcsPerFile: { processor: perFile(processorProxy.counts), loader: perFile(loaderProxy.counts) },
      gcsOperations: { processor: Object.fromEntries(processorProxy.byOperation), loader: Object.fromEntries(loaderProxy.byOperation) },
    };
  } finally {
    await Promise.all([processor.kill('SIGTERM'), loader.kill('SIGTERM')]);
    await Promise.all([processorProxy.close(), loaderProxy.close()]);
  }
}

const results = [];
for (const path of ['volume', 'bucket'] as const) {
  const result = await runPath(path);
  results.push(result);
  console.log(`${path}: ${result.files} files, ${fmt(result.bytes)} bytes; processor ${result.filesPerSecond} files/s, ${fmt(result.bytesPerSecond)} B/s; all loaded after ${result.loadedSeconds} s, mean announcement-to-visible ${result.meanReadyToVisibleSeconds} s; GCS per file ${JSON.stringify(result.gcsPerFile)}`);
}
saveResult('object-store', { events: EVENTS, rowsPerFile: Number(args['rows-per-file']), partitions: PARTITIONS, results });
