import { OPERATIONS, type Operation } from '@cdc/core';
import type { ParquetRow } from './to-row.js';
import { classifyRecord, type DeadLetter, type IncomingRecord } from './dead-letter.js';
import { RowArray, type ParquetRowBuffer } from '../sink/parquet-writer.js';

export interface BatchLimits {
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
}

/** 'memory': closed early, the instance's open batches together being over PROCESSOR_BUFFER_MAX_BYTES */
export type CloseReason = 'rows' | 'bytes' | 'age' | 'memory';

/**
 * The records read from one partition since the last file: rows for the Parquet file and dead letters, covering
 * the contiguous offset range [firstOffset, lastOffset] that its transaction commits past. Rows go into the
 * writer's buffer as they arrive (column buffers for parquet-wasm): only their statistics are kept here.
 */
export class OpenBatch {
  readonly deadLetters: DeadLetter[] = [];
  private readonly statistics = new StatsAccumulator();
  firstOffset = -1;
  lastOffset = -1;
  bytes = 0;

  constructor(
    /** the partition worker's epoch when the batch was opened: a batch of an older epoch is never committed */
    readonly epoch: number,
    readonly openedAt: number,
    /** the file's rows, in the writer's form (default: kept as objects) */
    readonly rows: ParquetRowBuffer = new RowArray(),
  ) {}

  /** Operations and cluster time range of the rows so far. */
  get stats(): BatchStats {
    return this.statistics.stats;
  }

  private track(offset: number, bytes: number): void {
    if (offset <= this.lastOffset) throw new Error(`offset ${offset} is not after ${this.lastOffset}`);
    if (this.firstOffset < 0) this.firstOffset = offset;
    this.lastOffset = offset;
    this.bytes += bytes;
  }

  addRow(row: ParquetRow, bytes: number): void {
    this.track(row.kafka_offset, bytes);
    this.rows.append(row);
    this.statistics.add(row);
  }

  addDeadLetter(deadLetter: DeadLetter, bytes: number): void {
    this.track(deadLetter.offset, bytes);
    this.deadLetters.push(deadLetter);
  }

  /** Adds a record as a row, or as a dead letter when it cannot become one (returned, for the log). */
  add(record: IncomingRecord): DeadLetter | null {
    const bytes = (record.value?.length ?? 0) + (record.key?.length ?? 0);
    const classified = classifyRecord(record);
    if (classified.ok) {
      this.addRow(classified.row, bytes);
      return null;
    }
    this.addDeadLetter(classified.deadLetter, bytes);
    return classified.deadLetter;
  }

  get isEmpty(): boolean {
    return this.firstOffset < 0;
  }

  /** Why the batch must be closed now, or null to keep it open. */
  closeReason(limits: BatchLimits, now: number): CloseReason | null {
    if (this.isEmpty) return null;
    if (this.rows.length >= limits.maxRows) return 'rows';
    if (this.bytes >= limits.maxBytes) return 'bytes';
    if (now - this.openedAt >= limits.maxAgeMs) return 'age';
    return null;
  }
}

export interface BatchStats {
  ops: Record<Operation, number>;
  /** cluster time seconds, or null when the batch has no row */
  minClusterTime: number | null;
  maxClusterTime: number | null;
}

class StatsAccumulator {
  private readonly ops = Object.fromEntries(OPERATIONS.map((op) => [op, 0])) as Record<Operation, number>;
  private min: number | null = null;
  private max: number | null = null;

  add(row: ParquetRow): void {
    this.ops[row.op]++;
    const t = row.cluster_time.getTime() / 1000;
    if (this.min === null || t < this.min) this.min = t;
    if (this.max === null || t > this.max) this.max = t;
  }

  get stats(): BatchStats {
    return { ops: { ...this.ops }, minClusterTime: this.min, maxClusterTime: this.max };
  }
}

export function batchStats(rows: readonly ParquetRow[]): BatchStats {
  const accumulator = new StatsAccumulator();
  for (const row of rows) accumulator.add(row);
  return accumulator.stats;
}
