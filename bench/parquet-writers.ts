// Parquet writer benchmark: rows/s, peak RSS and file size of each library x compression on realistic change
// events (orders with nested items, Decimal128 prices as canonical Extended JSON), using the processor's own
// writer and row mapping. Each configuration runs in a fresh child process so peak RSS is its own.
//
//   npx tsc -b && node bench/dist/parquet-writers.js [--rows 100000] [--libraries a,b] [--compressions SNAPPY,GZIP]
//
// Results are printed as a table and saved to bench/results/parquet-writers.json.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BSON, documentIdOf, eventIdFromResumeToken, snapshotEventId, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { createParquetWriter, toRow, type ParquetCompression, type ParquetLibrary, type ParquetRow } from '@cdc/processor';
import { orderFactory, resultsDir } from './lib/common.js';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: process.env.BENCH_ROWS ?? '100000' },
    libraries: { type: 'string', default: 'parquetjs-lite,@dsnp/parquetjs' },
    compressions: { type: 'string', default: 'SNAPPY,GZIP,ZSTD,UNCOMPRESSED' },
    child: { type: 'string' },
    out: { type: 'string' },
  },
});
const rowCount = Number(args.rows);

interface WriterResult {
  library: string;
  compression: string;
  rows: number;
  ms: number;
  rowsPerSec: number;
  bytes: number;
  envelopeBytes: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  readBackRows?: number | null;
}

function makeRows(count: number): { row: ParquetRow; bytes: number }[] {
  const factory = orderFactory(BSON, 42);
  const { random } = factory;
  const baseSeconds = 1764151872;
  const rows = [];
  for (let n = 0; n < count; n++) {
    const id = new BSON.ObjectId(n.toString(16).padStart(24, '0'));
    const order = factory.order(n, id, { randomStatus: true });
    const r = random();
    const op: Operation = r < 0.1 ? 'snapshot' : r < 0.5 ? 'insert' : r < 0.9 ? 'update' : r < 0.95 ? 'replace' : 'delete';
    const clusterTime = { t: baseSeconds + Math.floor(n / 10), i: n % 10 };
    const token = `8265${n.toString(16).padStart(20, '0')}`;
    const event = {
      schema_version: 1,
      event_id: op === 'snapshot' ? snapshotEventId('shop', 'orders', documentIdOf({ _id: id }), clusterTime) : eventIdFromResumeToken(token),
      op,
      db: 'shop',
      coll: 'orders',
      document_id: documentIdOf({ _id: id }),
      document: op === 'delete' ? null : toCanonicalJson(order),
      document_before: null,
      update_description: op === 'update' ? { updated_fields: toCanonicalJson({ status: order.status, updated_at: order.updated_at }), removed_fields: [], truncated_arrays: [] } : null,
      cluster_time: clusterTime,
      wall_time: new Date(clusterTime.t * 1000 + (n % 1000)).toISOString(),
      resume_token: op === 'snapshot' ? null : token,
      source: { instance: 'cdc-0', snapshot: op === 'snapshot' },
    } as ChangeEvent;
    rows.push({ row: toRow(event, { topic: 'orders-cdc', partition: 0, offset: n }), bytes: JSON.stringify(event).length });
  }
  return rows;
}

async function child(config: string, out: string): Promise<void> {
  const [library, compression] = config.split('|') as [ParquetLibrary, ParquetCompression];
  const generated = makeRows(rowCount);
  const rows = generated.map((g) => g.row);
  const envelopeBytes = generated.reduce((sum, g) => sum + g.bytes, 0);
  globalThis.gc?.();
  const baselineRss = process.memoryUsage().rss;
  const writer = await createParquetWriter(library, { compression, rowGroupRows: rowCount, pageRows: 8192 });
  let peakRss = baselineRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
  const start = process.hrtime.bigint();
  const { bytes } = await writer.write(out, rows);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  const result: WriterResult = { library, compression, rows: rowCount, ms, rowsPerSec: rowCount / (ms / 1000), bytes, envelopeBytes, baselineRssMiB: baselineRss / 2 ** 20, peakRssMiB: peakRss / 2 ** 20 };
  process.stdout.write(JSON.stringify(result));
}

async function readBackCount(path: string): Promise<number | null> {
  try {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const result = await connection.runAndReadAll(`select count(*)::INTEGER as n from read_parquet('${path.replaceAll("'", "''")}')`);
    return Number(result.getRowObjects()[0]?.n ?? NaN);
  } catch {
    return null; // DuckDB is a dev dependency; without it the check is skipped
  }
}

async function parent(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'parquet-bench-'));
  const results: WriterResult[] = [];
  try {
    for (const library of args.libraries.split(',')) {
      for (const compression of args.compressions.split(',')) {
        const out = join(work, `${library.replace(/\W/g, '')}-${compression}.parquet`);
        const text = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', `${library}|${compression}`, '--rows', String(rowCount), '--out', out], {
          encoding: 'utf8',
          maxBuffer: 1 << 20,
        });
        const result: WriterResult = JSON.parse(text);
        result.readBackRows = await readBackCount(out);
        if (result.readBackRows !== null && result.readBackRows !== rowCount) throw new Error(`${library} ${compression}: read back ${result.readBackRows} of ${rowCount} rows`);
        results.push(result);
        process.stderr.write(`${library} ${compression}: ${Math.round(result.rowsPerSec)} rows/s\n`);
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log(`\n${rowCount} rows, ${mib(results[0]?.envelopeBytes ?? 0)} MiB of envelope JSON, one row group per file, node ${process.version}\n`);
  console.log('| library | compression | rows/s | write s | file MiB | ratio vs JSON | peak RSS MiB | RSS growth MiB |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(
      `| ${r.library} | ${r.compression} | ${Math.round(r.rowsPerSec)} | ${(r.ms / 1000).toFixed(2)} | ${mib(r.bytes)} | ${(r.envelopeBytes / r.bytes).toFixed(1)}x | ${r.peakRssMiB.toFixed(0)} | ${(r.peakRssMiB - r.baselineRssMiB).toFixed(0)} |`,
    );
  }
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'parquet-writers.json'), JSON.stringify({ at: new Date().toISOString(), node: process.version, rows: rowCount, results }, null, 2));
}

if (args.child) await child(args.child, args.out!);
else await parent();
