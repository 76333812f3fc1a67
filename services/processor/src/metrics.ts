import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { OpenBatch } from './transform/batch.js';

export function createProcessorMetrics(registry: Registry) {
  return {
    rowsWritten: new Counter({ name: 'processor_rows_written_total', help: 'Rows in committed Parquet files', labelNames: ['topic', 'op'], registers: [registry] }),
    filesWritten: new Counter({ name: 'processor_files_written_total', help: 'Parquet files committed (renamed and announced)', labelNames: ['topic'], registers: [registry] }),
    bytesWritten: new Counter({ name: 'processor_bytes_written_total', help: 'Bytes of committed Parquet files', labelNames: ['topic'], registers: [registry] }),
    transactions: new Counter({ name: 'processor_transactions_total', help: 'Kafka transactions committed (file event and/or dead letters + offsets)', labelNames: ['topic'], registers: [registry] }),
    transactionRetries: new Counter({ name: 'processor_transaction_retries_total', help: 'Failed transaction attempts that were retried', labelNames: ['topic'], registers: [registry] }),
    deadLetters: new Counter({ name: 'processor_dead_letters_total', help: 'Records sent to the dead-letter topic', labelNames: ['topic', 'reason'], registers: [registry] }),
    batchesClosed: new Counter({
      name: 'processor_batches_closed_total',
      help: 'Open batches closed to become files, by what closed them: rows, bytes, age, or memory (PROCESSOR_BUFFER_MAX_BYTES reached by all partitions together)',
      labelNames: ['topic', 'reason'],
      registers: [registry],
    }),
    batchesDropped: new Counter({
      name: 'processor_batches_dropped_total',
      help: 'Batches abandoned before commit (rebalance, failure, fencing); their records are read again',
      labelNames: ['topic', 'reason'],
      registers: [registry],
    }),
    recoveries: new Counter({ name: 'processor_partition_recoveries_total', help: 'Partition take-overs (fence, read committed offset, remove leftovers)', labelNames: ['topic'], registers: [registry] }),
    leftoversRemoved: new Counter({ name: 'processor_leftover_files_removed_total', help: 'Unannounced files and temp files removed by recovery', labelNames: ['topic'], registers: [registry] }),
    openBatchAge: new Gauge({ name: 'processor_open_batch_age_seconds', help: 'Age of the open batch of a partition (0 when none)', labelNames: ['topic', 'partition'], registers: [registry] }),
    openBatchRows: new Gauge({ name: 'processor_open_batch_rows', help: 'Rows in the open batch of a partition', labelNames: ['topic', 'partition'], registers: [registry] }),
    consumerLag: new Gauge({
      name: 'processor_consumer_lag',
      help: 'High watermark minus the committed offset, per partition (a trailing transaction marker counts as 1)',
      labelNames: ['topic', 'partition'],
      registers: [registry],
    }),
    fileWriteSeconds: new Histogram({
      name: 'processor_file_write_seconds',
      help: 'Time to write, fsync and rename one Parquet file',
      labelNames: ['topic'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

export type ProcessorMetrics = ReturnType<typeof createProcessorMetrics>;

/** The gauges of one input partition. */
export class PartitionGauges {
  private readonly labels: { topic: string; partition: string };

  constructor(
    private readonly metrics: ProcessorMetrics,
    topic: string,
    partition: number,
  ) {
    this.labels = { topic, partition: String(partition) };
  }

  lag(highWatermark: number, next: number): void {
    this.metrics.consumerLag.set(this.labels, Math.max(0, highWatermark - next));
  }

  openBatch(open: OpenBatch | null, now: number): void {
    this.metrics.openBatchAge.set(this.labels, open && !open.isEmpty ? (now - open.openedAt) / 1000 : 0);
    this.metrics.openBatchRows.set(this.labels, open?.rows.length ?? 0);
  }

  /** The partition is no longer assigned here. */
  remove(): void {
    for (const gauge of [this.metrics.consumerLag, this.metrics.openBatchAge, this.metrics.openBatchRows]) gauge.remove(this.labels);
  }
}
