import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { loadParquetLibrary, OPERATIONS } from '@cdc/core';
import { PARQUET_COMPRESSIONS, PARQUET_WRITERS, createParquetWriter } from './parquet-writer.js';
import { FileStore } from './file-store.js';
import { fileChecksums } from './checksum.js';
import { PARQUET_COLUMNS, toRow, type ParquetRow } from '../transform/to-row.js';
import { sampleEvent } from '../test-support/events.js';

let dir: string;
let duck: DuckDBConnection;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parquet-writer-'));
  duck = await (await DuckDBInstance.create(':memory:')).connect();
});
after(() => {
  duck.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

const rows: ParquetRow[] = OPERATIONS.map((op, i) => toRow(sampleEvent(op, i + 1, { t: 1764151872 + i, i: i + 1 }), { topic: 'orders-cdc', partition: 1, offset: 2 ** 40 + i }));

/**
 * DuckDB's types for the columns: what the warehouse side will see. Timestamps: parquetjs writes only the legacy
 * converted type TIMESTAMP_MICROS, which DuckDB reads as a plain TIMESTAMP; parquet-wasm adds the logical type
 * TIMESTAMP(MICROS, isAdjustedToUTC=true), which it reads as TIMESTAMP WITH TIME ZONE. Both are UTC instants, and
 * BigQuery loads both as TIMESTAMP (the load test of bench/parquet-writers.ts compares them there).
 */
const duckdbTypes = (library: string): Record<string, string> => ({
  UTF8: 'VARCHAR',
  TIMESTAMP_MICROS: library === 'parquet-wasm' ? 'TIMESTAMP WITH TIME ZONE' : 'TIMESTAMP',
  INT64: 'BIGINT',
  INT32: 'INTEGER',
  BOOLEAN: 'BOOLEAN',
});

async function readBack(path: string) {
  const sql = (q: string) => duck.runAndReadAll(q.replace('$file', `'${path}'`));
  const types = (await sql('DESCRIBE SELECT * FROM read_parquet($file)')).getRowObjectsJS() as { column_name: string; column_type: string }[];
  const values = (
    await sql(
      `SELECT *, epoch_us(cluster_time)::BIGINT AS cluster_us, epoch_us(wall_time)::BIGINT AS wall_us FROM read_parquet($file) ORDER BY kafka_offset`,
    )
  ).getRowObjectsJS();
  const codecs = (await sql('SELECT DISTINCT compression FROM parquet_metadata($file)')).getRowObjectsJS().map((r) => r.compression);
  return { types, values, codecs };
}

for (const library of PARQUET_WRITERS) {
  for (const compression of PARQUET_COMPRESSIONS) {
    test(`${library} ${compression}: every column reads back in DuckDB with the right type and value`, async () => {
      const writer = await createParquetWriter(library, { compression, rowGroupRows: 1000, pageRows: 2 });
      const path = join(dir, `${library.replace(/\W/g, '')}-${compression}.parquet`);
      const { bytes } = await writer.write(path, rows);
      assert.ok(bytes > 0);
      const { types, values, codecs } = await readBack(path);
      assert.deepEqual(
        types.map((t) => [t.column_name, t.column_type]),
        PARQUET_COLUMNS.map((c) => [c.name, duckdbTypes(library)[c.type]]),
      );
      assert.deepEqual(codecs, [compression]);
      assert.equal(values.length, rows.length);
      values.forEach((got, i) => {
        const want = rows[i]!;
        for (const column of PARQUET_COLUMNS) {
          const name = column.name;
          if (column.type === 'TIMESTAMP_MICROS') continue;
          const expected = want[name];
          const actual = got[name];
          if (column.type === 'INT64') assert.equal(actual, BigInt(expected as number), name);
          else assert.equal(actual, expected, `${name} of ${want.op}`);
        }
        assert.equal(got.cluster_us, BigInt(want.cluster_time.getTime()) * 1000n);
        assert.equal(got.wall_us, want.wall_time === null ? null : BigInt(want.wall_time.getTime()) * 1000n);
      });
    });
  }
}

for (const library of PARQUET_WRITERS) {
  test(`${library}: a big document costs its own size in the file, not a copy per statistic; it reads back whole`, async () => {
    // 4 MiB of text in each of document, document_before and update_description; without compression, the file
    // holds them once each (with min/max statistics it held ~15 copies of each).
    const big = 'x"\\é'.repeat(1024 * 1024);
    const [first] = rows;
    const row: ParquetRow = { ...first!, document: `{"big":${JSON.stringify(big)}}`, document_before: `{"big":${JSON.stringify(big)}}`, update_description: JSON.stringify({ updated_fields: big }) };
    const text = Buffer.byteLength(row.document!) + Buffer.byteLength(row.document_before!) + Buffer.byteLength(row.update_description!);
    const writer = await createParquetWriter(library, { compression: 'UNCOMPRESSED', rowGroupRows: 1000, pageRows: 8192 });
    const path = join(dir, `${library.replace(/\W/g, '')}-big.parquet`);
    const { bytes } = await writer.write(path, [row]);
    assert.ok(bytes > text && bytes < text + 1024 * 1024, `${bytes} bytes of file for ${text} bytes of text`);
    const { values } = await readBack(path);
    assert.equal(values[0]!.document, row.document);
    assert.equal(values[0]!.document_before, row.document_before);
    assert.equal(values[0]!.update_description, row.update_description);
  });
}

test('the file store writes atomically: temp name, fsync, rename; checksums are of the final file', async () => {
  const writer = await createParquetWriter('@dsnp/parquetjs', { compression: 'SNAPPY', rowGroupRows: 1000, pageRows: 1000 });
  const store = new FileStore(join(dir, 'tree'), writer);
  const relative = 'orders-cdc/dt=2025-11-26/orders-cdc-p1-000000000000-000000000004.parquet';
  const sums = await store.writeAtomically(relative, rows);
  const final = store.absolute(relative);
  assert.ok(existsSync(final));
  assert.deepEqual(readdirSync(join(dir, 'tree', 'orders-cdc', 'dt=2025-11-26')), ['orders-cdc-p1-000000000000-000000000004.parquet'], 'no temp file left');
  assert.deepEqual({ path: relative, generation: null, ...(await fileChecksums(final)) }, sums);
  const listed = await store.listTopicFiles('orders-cdc');
  assert.deepEqual(listed, [{ name: 'orders-cdc-p1-000000000000-000000000004.parquet', path: relative }]);
  assert.deepEqual(await store.listTopicFiles('missing-topic'), []);
  await store.remove([relative]);
  assert.equal(existsSync(final), false);
});

test('parquet-wasm: rows appended one by one as they arrive make the same rows as a file written at once; a failed write fails its batch only', async () => {
  const writer = await createParquetWriter('parquet-wasm', { compression: 'ZSTD', rowGroupRows: 1000, pageRows: 8192 });
  // more rows than a buffer's first capacity, so the column buffers grow while rows arrive
  const many = Array.from({ length: 3000 }, (_, k) => ({ ...rows[k % rows.length]!, kafka_offset: k, document: k % 7 === 0 ? null : `{"n":${k},"text":"Zürich 東京 🚀"}` }));
  const buffer = writer.newRows();
  for (const row of many) buffer.append(row);
  assert.equal(buffer.length, many.length);
  const appended = join(dir, 'wasm-appended.parquet');
  const atOnce = join(dir, 'wasm-at-once.parquet');
  await writer.write(appended, buffer);
  await writer.write(atOnce, many);
  const query = (path: string) => duck.runAndReadAll(`SELECT * FROM read_parquet('${path}') ORDER BY kafka_offset`).then((r) => r.getRowObjectsJS());
  const [a, b] = [await query(appended), await query(atOnce)];
  assert.equal(a.length, many.length);
  assert.deepEqual(a, b);
  assert.equal(a.filter((r) => r.document === null).length, many.filter((r) => r.document === null).length);
  assert.equal(a[1]!.document, many[1]!.document);

  const failing = writer.newRows();
  failing.append(rows[0]!);
  await assert.rejects(writer.write(join(dir, 'missing-directory', 'x.parquet'), failing), { code: 'ENOENT' });
  const next = writer.newRows();
  next.append(rows[0]!);
  assert.ok((await writer.write(join(dir, 'wasm-after-failure.parquet'), next)).bytes > 0, 'the encoding thread still writes');
});

test('parquet-wasm: a batch encoded slice by slice gives its rows whole, nulls and strings at slice edges included, in row groups that span slices', async () => {
  // 20,000 rows: several of the encoder's slices (8192 rows)
  const many = Array.from({ length: 20_000 }, (_, k) => ({
    ...rows[k % rows.length]!,
    kafka_offset: k,
    document: k % 8192 === 8191 || k % 8192 === 0 ? null : `{"n":${k},"text":"${'é'.repeat(k % 13)}東京"}`,
  }));
  const rowGroups = async (path: string) =>
    (await duck.runAndReadAll(`SELECT DISTINCT row_group_id, row_group_num_rows FROM parquet_metadata('${path}') ORDER BY row_group_id`)).getRowObjectsJS().map((r) => Number(r.row_group_num_rows));
  for (const [rowGroupRows, expected] of [
    [200_000, [20_000]],
    [7_000, [7_000, 7_000, 6_000]],
  ] as const) {
    const writer = await createParquetWriter('parquet-wasm', { compression: 'ZSTD', rowGroupRows, pageRows: 8192 });
    const buffer = writer.newRows();
    for (const row of many) buffer.append(row);
    const path = join(dir, `wasm-slices-${rowGroupRows}.parquet`);
    await writer.write(path, buffer);
    const read = (await duck.runAndReadAll(`SELECT kafka_offset, document FROM read_parquet('${path}') ORDER BY kafka_offset`)).getRowObjectsJS();
    assert.deepEqual(
      read.map((r) => [Number(r.kafka_offset), r.document]),
      many.map((r) => [r.kafka_offset, r.document]),
    );
    assert.deepEqual(await rowGroups(path), expected);
  }
});

test("parquet-wasm ZSTD: documents of 15 MiB in three columns read back whole with the loader's reader", async () => {
  // random text: zstd keeps most of it, so the compressed pages are large too
  const big = `{"text":${JSON.stringify(`"quoted" \\ é 🚚\n${randomBytes(12 * 1024 * 1024).toString('base64')}`)}}`;
  const writer = await createParquetWriter('parquet-wasm', { compression: 'ZSTD', rowGroupRows: 1000, pageRows: 8192 });
  const path = join(dir, 'wasm-big-zstd.parquet');
  await writer.write(path, [{ ...rows[1]!, document: big, document_before: big, update_description: big }]);
  const parquet = await loadParquetLibrary('@dsnp/parquetjs', true);
  const reader = await parquet.ParquetReader.openFile(path);
  try {
    const row = await reader.getCursor([['coll'], ['document'], ['document_before'], ['update_description']]).next();
    assert.equal(row?.document, big);
    assert.equal(row?.document_before, big);
    assert.equal(row?.update_description, big);
  } finally {
    await reader.close();
  }
});
