import { PARQUET_COLUMNS, type ColumnSpec, type ParquetRow } from '../transform/to-row.js';

/**
 * One column of an open file, in flat buffers that are handed to the encoding thread as they are (transferred, not
 * copied): strings as UTF-8 bytes with Arrow's offsets, numbers as float64 (timestamps in milliseconds, converted to
 * the file's INT64 microseconds where the file is encoded), booleans one byte each. `valid` is one byte per row,
 * 0 for null (only optional columns have one).
 */
export interface ColumnData {
  name: string;
  type: ColumnSpec['type'];
  optional: boolean;
  /** UTF8: value bytes; others: absent */
  bytes?: Uint8Array;
  /** UTF8: rows + 1 offsets into `bytes` */
  offsets?: Int32Array;
  /** TIMESTAMP_MICROS (milliseconds), INT64, INT32 */
  numbers?: Float64Array;
  /** BOOLEAN: 0 or 1 */
  flags?: Uint8Array;
  valid?: Uint8Array;
}

/** The columns of a closed batch: what the encoding thread receives. */
export interface ColumnBatchData {
  rows: number;
  columns: ColumnData[];
}

const grow = <T extends Buffer | Uint8Array | Int32Array | Float64Array>(array: T, needed: number, make: (length: number) => T): T => {
  if (needed <= array.length) return array;
  const next = make(Math.max(needed, array.length * 2));
  next.set(array);
  return next;
};

class Column {
  /** its own memory (not from Buffer's shared pool): it is copied out at the close */
  bytes = Buffer.allocUnsafeSlow(0);
  byteLength = 0;
  offsets = new Int32Array(0);
  numbers = new Float64Array(0);
  flags = new Uint8Array(0);
  valid = new Uint8Array(0);

  constructor(readonly spec: ColumnSpec) {}

  ensureRows(rows: number): void {
    const capacity = Math.max(1024, rows);
    if (this.spec.optional) this.valid = grow(this.valid, capacity, (n) => new Uint8Array(n));
    switch (this.spec.type) {
      case 'UTF8':
        this.offsets = grow(this.offsets, capacity + 1, (n) => new Int32Array(n));
        break;
      case 'BOOLEAN':
        this.flags = grow(this.flags, capacity, (n) => new Uint8Array(n));
        break;
      default:
        this.numbers = grow(this.numbers, capacity, (n) => new Float64Array(n));
    }
  }

  append(row: number, value: unknown): void {
    const isNull = value === null || value === undefined;
    if (this.spec.optional) this.valid[row] = isNull ? 0 : 1;
    else if (isNull) throw new Error(`column ${this.spec.name} is required and got no value`);
    switch (this.spec.type) {
      case 'UTF8': {
        if (!isNull) {
          const text = value as string;
          // at most 3 bytes per UTF-16 unit
          this.bytes = grow(this.bytes, this.byteLength + text.length * 3, (n) => Buffer.allocUnsafeSlow(n));
          this.byteLength += this.bytes.write(text, this.byteLength, 'utf8');
        }
        this.offsets[row + 1] = this.byteLength;
        break;
      }
      case 'BOOLEAN':
        this.flags[row] = value === true ? 1 : 0;
        break;
      case 'TIMESTAMP_MICROS':
        this.numbers[row] = isNull ? 0 : (value as Date).getTime();
        break;
      default:
        this.numbers[row] = isNull ? 0 : (value as number);
    }
  }

  /** The filled part: views on the buffers, which move to the encoding thread with their growth slack (no copy). */
  data(rows: number): ColumnData {
    const { name, type, optional } = this.spec;
    const data: ColumnData = { name, type, optional };
    if (optional) data.valid = this.valid.subarray(0, rows);
    if (type === 'UTF8') {
      data.bytes = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset, this.byteLength);
      data.offsets = this.offsets.subarray(0, rows + 1);
    } else if (type === 'BOOLEAN') data.flags = this.flags.subarray(0, rows);
    else data.numbers = this.numbers.subarray(0, rows);
    return data;
  }

  get retainedBytes(): number {
    return this.bytes.byteLength + this.offsets.byteLength + this.numbers.byteLength + this.flags.byteLength + this.valid.byteLength;
  }
}

/**
 * The rows of one open file, shredded into column buffers as they arrive: no row object outlives its append, so
 * the garbage collector sees a few large buffers per batch instead of a million small objects. Bounded by the
 * batch's own limits (rows, and the record bytes the strings come from).
 */
export class ColumnBuffers {
  private readonly columns = PARQUET_COLUMNS.map((spec) => new Column(spec));
  private capacity = 0;
  length = 0;

  append(row: ParquetRow): void {
    const index = this.length;
    if (index >= this.capacity) {
      this.capacity = Math.max(1024, this.capacity * 2);
      for (const column of this.columns) column.ensureRows(this.capacity);
    }
    for (const column of this.columns) column.append(index, row[column.spec.name]);
    this.length = index + 1;
  }

  /** Memory held now (buffers include their growth slack). */
  get retainedBytes(): number {
    return this.columns.reduce((sum, column) => sum + column.retainedBytes, 0);
  }

  /** The filled columns; the buffers then belong to the caller (they are transferred to the encoding thread). */
  take(): ColumnBatchData {
    return { rows: this.length, columns: this.columns.map((column) => column.data(this.length)) };
  }

  /** Every buffer that `take()` returned (to transfer them). */
  static transferList(batch: ColumnBatchData): ArrayBuffer[] {
    return batch.columns.flatMap((c) => [c.bytes, c.offsets, c.numbers, c.flags, c.valid].filter((b) => b !== undefined).map((b) => b.buffer as ArrayBuffer));
  }
}
