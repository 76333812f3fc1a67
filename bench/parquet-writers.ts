// Parquet writer comparison on the pipeline's own rows (the processor's row mapping and column contract; realistic
// orders with nested items, Decimal128 prices as canonical Extended JSON, unicode):
//   @dsnp/parquetjs   today's writer (row at a time, pure JS; ZSTD from a WebAssembly build)
//   parquet-wasm      arrow-rs compiled to WebAssembly, fed Arrow batches built by apache-arrow from the processor's
//                     column buffers; as the processor runs it (encoding thread)
//   duckdb            @duckdb/node-api: rows appended to an in-memory table (appender), then COPY ... TO Parquet
//   hyparquet-writer  column-oriented pure JS (ZSTD from the same WebAssembly build as today's)
// For each writer x codec, in a fresh child process: rows/s (from the first row handed over until the file is
// written), CPU seconds of the whole process (every thread: encoding threads, DuckDB's own), rows per CPU-second, peak
// RSS (VmHWM) and its growth over the rows held before the write, file size.
//
// Then fidelity: every writer writes the same edge rows (every operation, nulls, unicode, nested JSON strings, offsets
// above 2^40, millisecond wall times) with each codec; every file is loaded into the BigQuery emulator with the
// loader's schema and read back column by column against today's file, and its Parquet schema (physical, converted
// and logical types, repetition) is compared with today's. A writer whose rows differ in BigQuery, or which the
// emulator or the loader's Parquet reader cannot read, is disqualified with the reason.
//
//   npm run bench:parquet-writers -- [--rows 100000] [--writers a,b] [--compressions SNAPPY,ZSTD] [--no-bigquery]
//
// Results: printed as a table and saved to bench/results/parquet-writers-<time>.json.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BSON, documentIdOf, eventIdFromResumeToken, loadParquetLibrary, OPERATIONS, snapshotEventId, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';
import { changesTableColumns, createGcpClients } from '@cdc/core/gcp';
import { createParquetWriter, PARQUET_COLUMNS, toRow, type ParquetCompression, type ParquetRow } from '@cdc/processor';
import { COLUMNS_WITHOUT_STATISTICS } from '@cdc/processor/dist/sink/parquet-writer.js';
import { sampleEvent } from '@cdc/processor/dist/test-support/events.js';
import { infra, uniqueName } from '@cdc/tests/dist/support/infra.js';
import { repoRoot } from '@cdc/tests/dist/support/service-process.js';
import { fmt, memoryOf, orderFactory, reasonOf, saveResult } from './lib/common.js';

const require = createRequire(import.meta.url);

const WRITERS = ['@dsnp/parquetjs', 'parquet-wasm', 'duckdb', 'hyparquet-writer'] as const;
type Writer = (typeof WRITERS)[number];
const REFERENCE: Writer = '@dsnp/parquetjs';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: process.env.BENCH_ROWS ?? '100000' },
    writers: { type: 'string', default: WRITERS.join(',') },
    compressions: { type: 'string', default: 'SNAPPY,ZSTD' },
    'no-bigquery': { type: 'boolean', default: false },
    child: { type: 'string' },
    out: { type: 'string' },
    fidelity: { type: 'boolean', default: false },
  },
});
const rowCount = Number(args.rows);
/** the processor's shipped row group and page settings */
const ROW_GROUP_ROWS = 200_000;
const PAGE_ROWS = 8192;

// ------------------------------------------------------------------ rows

/** N rows of realistic orders (ops: 10% snapshot, 40% insert, 40% update, 5% replace, 5% delete), mapped as the processor maps them. */
function benchRows(count: number): ParquetRow[] {
  const factory = orderFactory(BSON, 42);
  const { random } = factory;
  const baseSeconds = 1764151872;
  const rows: ParquetRow[] = [];
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
      wall_time: op === 'snapshot' ? null : new Date(clusterTime.t * 1000 + (n % 1000)).toISOString(),
      resume_token: op === 'snapshot' ? null : token,
      source: { instance: 'cdc-0', snapshot: op === 'snapshot' },
    } as ChangeEvent;
    rows.push(toRow(event, { topic: 'orders-cdc', partition: 0, offset: n }));
  }
  return rows;
}

/** Edge rows for the fidelity check: every operation, nulls, unicode, a 3 MiB document, big offsets, plus a slice of realistic orders. */
function fidelityRows(): ParquetRow[] {
  const rows = OPERATIONS.map((op, i) => toRow(sampleEvent(op, i + 1, { t: 1764151872 + i, i: i + 1 }), { topic: 'orders-cdc', partition: 1, offset: 2 ** 40 + i }));
  const unicode = { ...rows[1]!, event_id: 'ünïcödé-東京-🚀', document: JSON.stringify({ name: 'Zürich 東京 🚀 \u00e9\u0301', quote: '"\\/\n\t', empty: '' }), kafka_offset: 2 ** 40 + 100 };
  const empty = { ...rows[1]!, event_id: 'empty-strings', document: '', resume_token: '', kafka_offset: 2 ** 40 + 101 };
  // a page above 1 MiB: readers that size their buffer from the frame (zstd) must still read it whole
  const big = { ...rows[1]!, event_id: 'big-document', document: JSON.stringify({ text: 'Zürich "東京" \\ '.repeat(200_000) }), kafka_offset: 2 ** 40 + 102 };
  const orders = benchRows(200).map((row, k) => ({ ...row, partition: 1, kafka_offset: 2 ** 40 + 200 + k }));
  return [...rows, unicode, empty, big, ...orders];
}

// ------------------------------------------------------------------ the writers

type WriteFn = (path: string, rows: readonly ParquetRow[], compression: ParquetCompression) => Promise<void>;

async function processorWriter(library: '@dsnp/parquetjs' | 'parquet-wasm'): Promise<WriteFn> {
  return async (path, rows, compression) => {
    const writer = await createParquetWriter(library, { compression, rowGroupRows: ROW_GROUP_ROWS, pageRows: PAGE_ROWS });
    // as the processor does: rows appended to the writer's buffer one by one as they arrive
    const buffer = writer.newRows();
    for (const row of rows) buffer.append(row);
    await writer.write(path, buffer);
  };
}

async function duckdbWriter(): Promise<WriteFn> {
  const duck = await import('@duckdb/node-api');
  const sqlType = { UTF8: 'VARCHAR', TIMESTAMP_MICROS: 'TIMESTAMPTZ', INT64: 'BIGINT', INT32: 'INTEGER', BOOLEAN: 'BOOLEAN' } as const;
  return async (path, rows, compression) => {
    const instance = await duck.DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const columns = PARQUET_COLUMNS.map((c) => `"${c.name}" ${sqlType[c.type]}${c.optional ? '' : ' NOT NULL'}`).join(', ');
      await connection.run(`CREATE TABLE batch (${columns})`);
      const appender = await connection.createAppender('batch');
      for (const row of rows) {
        for (const column of PARQUET_COLUMNS) {
          const value = row[column.name];
          if (value === null) appender.appendNull();
          else if (column.type === 'UTF8') appender.appendVarchar(value as string);
          else if (column.type === 'TIMESTAMP_MICROS') appender.appendTimestampTZ(new duck.DuckDBTimestampTZValue(BigInt((value as Date).getTime()) * 1000n));
          else if (column.type === 'INT64') appender.appendBigInt(BigInt(value as number));
          else if (column.type === 'INT32') appender.appendInteger(value as number);
          else appender.appendBoolean(value as boolean);
        }
        appender.endRow();
      }
      appender.closeSync();
      await connection.run(`COPY batch TO '${path.replaceAll("'", "''")}' (FORMAT parquet, COMPRESSION ${compression}, ROW_GROUP_SIZE ${ROW_GROUP_ROWS})`);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  };
}

async function hyparquetWriter(): Promise<WriteFn> {
  const { parquetWriteFile } = await import('hyparquet-writer');
  const zstd = require('@bokuweb/zstd-wasm') as { init(): Promise<void>; compress(input: Uint8Array, level?: number): Uint8Array };
  await zstd.init();
  return async (path, rows, compression) => {
    const schema = [
      { name: 'root', num_children: PARQUET_COLUMNS.length },
      ...PARQUET_COLUMNS.map((c) => {
        const repetition_type = c.optional ? ('OPTIONAL' as const) : ('REQUIRED' as const);
        switch (c.type) {
          case 'UTF8':
            return { name: c.name, type: 'BYTE_ARRAY' as const, converted_type: 'UTF8' as const, repetition_type };
          case 'TIMESTAMP_MICROS':
            return { name: c.name, type: 'INT64' as const, converted_type: 'TIMESTAMP_MICROS' as const, repetition_type };
          default:
            return { name: c.name, type: c.type, repetition_type };
        }
      }),
    ];
    const columnData = PARQUET_COLUMNS.map((c) => ({
      name: c.name,
      data: rows.map((row) => (c.type === 'INT64' && row[c.name] !== null ? BigInt(row[c.name] as number) : row[c.name])),
      statistics: !COLUMNS_WITHOUT_STATISTICS.has(c.name),
    }));
    parquetWriteFile({
      filename: path,
      columnData,
      schema,
      codec: compression,
      compressors: { ZSTD: (input: Uint8Array) => zstd.compress(input, 3) },
      rowGroupSize: ROW_GROUP_ROWS,
    } as Parameters<typeof parquetWriteFile>[0]);
  };
}

const makeWriter: Record<Writer, () => Promise<WriteFn>> = {
  '@dsnp/parquetjs': () => processorWriter('@dsnp/parquetjs'),
  'parquet-wasm': () => processorWriter('parquet-wasm'),
  duckdb: duckdbWriter,
  'hyparquet-writer': hyparquetWriter,
};

// ------------------------------------------------------------------ one measurement (child process)

interface Measurement {
  writer: Writer;
  compression: ParquetCompression;
  rows: number;
  seconds: number;
  rowsPerSec: number;
  cpuSeconds: number;
  rowsPerCpuSecond: number;
  bytes: number;
  rowsHeldRssMiB: number;
  peakRssMiB: number;
}

async function child(config: string, out: string): Promise<void> {
  const [writer, compression] = config.split('|') as [Writer, ParquetCompression];
  if (args.fidelity) {
    await (await makeWriter[writer]())(out, fidelityRows(), compression);
    return;
  }
  const rows = benchRows(rowCount);
  const write = await makeWriter[writer]();
  globalThis.gc?.();
  const rowsHeldRssMiB = memoryOf(process.pid)!.rssMiB;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  await write(out, rows, compression);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const result: Measurement = {
    writer,
    compression,
    rows: rowCount,
    seconds,
    rowsPerSec: rowCount / seconds,
    cpuSeconds,
    rowsPerCpuSecond: rowCount / cpuSeconds,
    bytes: statSync(out).size,
    rowsHeldRssMiB,
    peakRssMiB: memoryOf(process.pid)!.hwmMiB,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

function runChild(config: string, out: string, extra: string[] = []): string {
  return execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', config, '--rows', String(rowCount), '--out', out, ...extra], {
    encoding: 'utf8',
    maxBuffer: 1 << 20,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

// ------------------------------------------------------------------ fidelity

interface Fidelity {
  writer: Writer;
  compression: ParquetCompression;
  /** null: same as today's file in BigQuery */
  disqualified: string | null;
  /** Parquet schema differences from today's file that BigQuery does not show */
  schemaNotes: string[];
  /** @dsnp/parquetjs (the loader's typed views) reads the same coll, op and document as from today's file */
  parquetjsReadable: boolean;
}

type SchemaRow = { name: string; type: string | null; converted_type: string | null; logical_type: string | null; repetition_type: string | null };

async function parquetSchema(path: string): Promise<SchemaRow[]> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const result = await connection.runAndReadAll(`SELECT name, type, converted_type, logical_type::VARCHAR AS logical_type, repetition_type FROM parquet_schema('${path}') WHERE name <> 'schema' AND name <> 'root' AND name <> 'duckdb_schema' AND name <> 'arrow_schema'`);
    return result.getRowObjectsJS() as SchemaRow[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

const shortType = (logical: string | null) =>
  logical === null ? null : logical.replace('StringType()', 'STRING').replace(/TimestampType\(isAdjustedToUTC=(\d).*?(MILLIS|MICROS|NANOS)=\w+\(\).*$/, (_, utc, unit) => `TIMESTAMP(${unit}, ${utc === '1' ? 'UTC' : 'local'})`);

/**
 * A candidate's Parquet schema against today's, grouped by difference. Disqualifying: another physical type,
 * converted type or repetition, or another logical type where today's file has one. Noted only: a logical type
 * added where today's file has just the converted type it agrees with (UTF8 -> STRING; TIMESTAMP_MICROS ->
 * TIMESTAMP(MICROS, UTC), which is what the converted type means and what BigQuery loads as TIMESTAMP).
 */
function schemaDifferences(reference: SchemaRow[], theirs: SchemaRow[]): { differences: string[]; notes: string[] } {
  const grouped = new Map<string, { disqualifying: boolean; columns: string[] }>();
  const add = (text: string, disqualifying: boolean, column: string) => {
    const entry = grouped.get(text) ?? { disqualifying, columns: [] };
    entry.columns.push(column);
    grouped.set(text, entry);
  };
  const agrees: Record<string, string> = { UTF8: 'STRING', TIMESTAMP_MICROS: 'TIMESTAMP(MICROS, UTC)' };
  for (const ref of reference) {
    const got = theirs.find((s) => s.name === ref.name);
    if (!got) {
      add('missing', true, ref.name);
      continue;
    }
    for (const key of ['type', 'converted_type', 'repetition_type'] as const) {
      if ((got[key] ?? null) !== (ref[key] ?? null)) add(`${key} ${ref[key]} -> ${got[key]}`, true, ref.name);
    }
    const [want, have] = [shortType(ref.logical_type), shortType(got.logical_type)];
    if (want !== have) add(`logical type ${want} -> ${have}`, want !== null || have !== agrees[ref.converted_type ?? ''], ref.name);
  }
  const text = ([k, v]: [string, { columns: string[] }]) => `${k} (${v.columns.length === PARQUET_COLUMNS.length ? 'every column' : v.columns.join(', ')})`;
  const entries = [...grouped];
  return { differences: entries.filter(([, v]) => v.disqualifying).map(text), notes: entries.filter(([, v]) => !v.disqualifying).map(text) };
}

/**
 * What the loader's typed views read of a file with @dsnp/parquetjs (coll, op, document of every row), as text to
 * compare with today's file; null when it cannot read the file.
 */
async function typedViewsInput(path: string): Promise<string | null> {
  try {
    const parquet = await loadParquetLibrary('@dsnp/parquetjs', true);
    const reader = await parquet.ParquetReader.openFile(path);
    const cursor = reader.getCursor([['coll'], ['op'], ['document']]);
    const rows: unknown[] = [];
    for (let row = await cursor.next(); row; row = await cursor.next()) rows.push([row.coll, row.op, row.document ?? null].map((v) => (v === null ? null : String(v))));
    await reader.close();
    return JSON.stringify(rows);
  } catch {
    return null;
  }
}

async function fidelity(work: string, writers: Writer[], compressions: ParquetCompression[], withBigQuery: boolean): Promise<Fidelity[]> {
  const gcp = createGcpClients({ GCP_PROJECT: infra.bigqueryProject, BQ_LOCATION: 'US', BIGQUERY_ENDPOINT: infra.bigqueryEndpoint, GCS_ENDPOINT: infra.gcsEndpoint } as Parameters<typeof createGcpClients>[0]);
  const datasetName = uniqueName('parquet_writers').replaceAll('-', '_');
  const dataset = gcp.bigquery.dataset(datasetName);
  if (withBigQuery) await dataset.create();
  const schema = { fields: changesTableColumns().map(({ name, type, mode }) => ({ name, type, mode })) };
  const loaded = async (path: string, table: string): Promise<Record<string, unknown>[]> => {
    await dataset.createTable(table, { schema });
    const [job] = await dataset.table(table).createLoadJob(path, { sourceFormat: 'PARQUET', writeDisposition: 'WRITE_APPEND', createDisposition: 'CREATE_NEVER', schema });
    const error = job.metadata?.status?.errorResult;
    if (error) throw new Error(`load failed: ${error.message}`);
    const select = PARQUET_COLUMNS.map((c) => (c.bigquery === 'TIMESTAMP' ? `FORMAT_TIMESTAMP('%Y-%m-%dT%H:%M:%E6SZ', ${c.name}, 'UTC') AS ${c.name}` : c.name)).join(', ');
    const [rows] = await gcp.bigquery.query({ query: `SELECT ${select} FROM \`${infra.bigqueryProject}.${datasetName}.${table}\` ORDER BY kafka_offset` });
    return rows as Record<string, unknown>[];
  };
  const results: Fidelity[] = [];
  try {
    for (const compression of compressions) {
      const files = new Map<Writer, string>();
      for (const writer of [REFERENCE, ...writers.filter((w) => w !== REFERENCE)]) {
        const path = join(work, `fidelity-${writer.replace(/\W/g, '')}-${compression}.parquet`);
        runChild(`${writer}|${compression}`, path, ['--fidelity']);
        files.set(writer, path);
      }
      const referencePath = files.get(REFERENCE)!;
      const referenceSchema = await parquetSchema(referencePath);
      const referenceViewsInput = await typedViewsInput(referencePath);
      const referenceRows = withBigQuery ? await loaded(referencePath, `reference_${compression.toLowerCase()}`) : [];
      for (const writer of writers) {
        const path = files.get(writer)!;
        const { differences, notes: schemaNotes } = schemaDifferences(referenceSchema, await parquetSchema(path));
        let disqualified: string | null = differences.length > 0 ? `Parquet schema differs from today's: ${differences.join('; ')}` : null;
        if (withBigQuery && writer !== REFERENCE) {
          try {
            const rows = await loaded(path, `${writer.replace(/\W/g, '_')}_${compression.toLowerCase()}`);
            let differs: string | null = rows.length !== referenceRows.length ? `BigQuery holds ${rows.length} rows, today's file ${referenceRows.length}` : null;
            for (let i = 0; i < rows.length && !differs; i++) {
              for (const column of PARQUET_COLUMNS) {
                const want = JSON.stringify(referenceRows[i]![column.name]);
                const got = JSON.stringify(rows[i]![column.name]);
                if (want !== got) {
                  differs = `row ${i} column ${column.name}: BigQuery reads ${got.slice(0, 80)}, today's file ${want.slice(0, 80)}`;
                  break;
                }
              }
            }
            if (differs) disqualified = [disqualified, differs].filter(Boolean).join('; ');
          } catch (error) {
            disqualified = [disqualified, `BigQuery load or query failed: ${reasonOf(error)}`].filter(Boolean).join('; ');
          }
        }
        const viewsInput = await typedViewsInput(path);
        const parquetjsReadable = viewsInput !== null && viewsInput === referenceViewsInput;
        if (!parquetjsReadable) disqualified = [disqualified, "the loader's typed views (@dsnp/parquetjs) do not read the same coll, op and document from it"].filter(Boolean).join('; ');
        results.push({ writer, compression, disqualified, schemaNotes, parquetjsReadable });
        console.error(`fidelity ${writer} ${compression}: ${disqualified ?? 'same in BigQuery'}${schemaNotes.length ? ` (schema: ${schemaNotes.join('; ')})` : ''}`);
      }
    }
  } finally {
    if (withBigQuery) await dataset.delete({ force: true }).catch(() => undefined);
  }
  return results;
}

// ------------------------------------------------------------------ main

async function parent(): Promise<void> {
  const writers = args.writers.split(',') as Writer[];
  const compressions = args.compressions.split(',') as ParquetCompression[];
  const work = mkdtempSync(join(tmpdir(), 'parquet-writers-'));
  const measurements: Measurement[] = [];
  let fidelityResults: Fidelity[] = [];
  try {
    for (const compression of compressions) {
      for (const writer of writers) {
        const out = join(work, `${writer.replace(/\W/g, '')}-${compression}.parquet`);
        const m: Measurement = JSON.parse(runChild(`${writer}|${compression}`, out).trim().split('\n').at(-1)!);
        measurements.push(m);
        rmSync(out, { force: true });
        console.error(`${writer} ${compression}: ${fmt(m.rowsPerSec)} rows/s, ${fmt(m.rowsPerCpuSecond)} rows per CPU-second, peak RSS ${m.peakRssMiB.toFixed(0)} MiB`);
      }
    }
    fidelityResults = await fidelity(work, writers, compressions, !args['no-bigquery']);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const reference = (compression: string) => measurements.find((m) => m.writer === REFERENCE && m.compression === compression);
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log(`\n${fmt(rowCount)} rows of orders in one file (row groups of ${fmt(ROW_GROUP_ROWS)}), node ${process.version}; CPU = every thread of the writing process\n`);
  console.log('| writer | codec | rows/s | rows per CPU-s | × today per CPU-s | peak RSS MiB | RSS over rows held MiB | file MiB | BigQuery |');
  console.log('|---|---|---:|---:|---:|---:|---:|---:|---|');
  for (const m of measurements) {
    const ref = reference(m.compression);
    const f = fidelityResults.find((r) => r.writer === m.writer && r.compression === m.compression);
    const verdict = f ? (f.disqualified ? `disqualified: ${f.disqualified}` : `same${f.schemaNotes.length ? ` (Parquet schema: ${f.schemaNotes.join('; ')})` : ''}`) : '-';
    console.log(
      `| ${m.writer} | ${m.compression} | ${fmt(m.rowsPerSec)} | ${fmt(m.rowsPerCpuSecond)} | ${ref ? (m.rowsPerCpuSecond / ref.rowsPerCpuSecond).toFixed(2) : '-'} | ${m.peakRssMiB.toFixed(0)} | ${(m.peakRssMiB - m.rowsHeldRssMiB).toFixed(0)} | ${mib(m.bytes)} | ${verdict} |`,
    );
  }
  const versions = Object.fromEntries(['@dsnp/parquetjs', 'parquet-wasm', 'apache-arrow', '@duckdb/node-api', 'hyparquet-writer'].map((p) => [p, JSON.parse(readFileSync(join(repoRoot, 'node_modules', p, 'package.json'), 'utf8')).version]));
  const path = saveResult('parquet-writers', { bench: 'parquet-writers', at: new Date().toISOString(), node: process.version, rows: rowCount, rowGroupRows: ROW_GROUP_ROWS, versions, measurements, fidelity: fidelityResults });
  console.log(`\nresults: ${path}`);
}

if (args.child) await child(args.child, args.out!);
else await parent();
