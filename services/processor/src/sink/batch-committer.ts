import { NO_FAULTS, retryTransaction, ServiceError, type Admin, type Consumer, type Kafka, type Logger, type OutgoingMessage } from '@cdc/core';
import type { OpenBatch, CloseReason } from '../transform/batch.js';
import { deadLetterMessage } from '../transform/dead-letter.js';
import { leftoverFiles, relativeFilePath, type FileRange } from './file-layout.js';
import { fileEventKey, fileReadyEvent, type WrittenFile } from './file-event.js';
import type { FileStore } from './file-store.js';
import { PartitionTransactions, type PartitionTransactionsSettings, type Transactions } from './partition-transactions.js';
import type { ProcessorMetrics } from '../metrics.js';
import type { ProcessorFaultPoints } from '../fault-points.js';

export interface CommitterSettings {
  groupId: string;
  filesTopic: string;
  transactionTimeoutMs: number;
}

export interface CommitterDeps {
  kafka: Kafka;
  /** the group consumer: its group metadata goes with every transaction's offsets (KIP-447) */
  consumer: Consumer;
  admin: Admin;
  store: FileStore;
  metrics: ProcessorMetrics;
  settings: CommitterSettings;
  /** the service's stop, aborted as the shutdown starts (or on a fatal error): a failed transaction is not retried */
  signal: AbortSignal;
  /** the partition's transactional producer; unit tests pass a fake */
  createTransactions?: (settings: PartitionTransactionsSettings, logger: Logger) => Transactions;
  /** test fault injection (default: none) */
  faults?: ProcessorFaultPoints;
}

class OwnershipLostError extends ServiceError {
  constructor(message: string) {
    super(message, { reason: 'ownership-lost' });
  }
}

/**
 * The transactional side of one input partition: its producer, the take-over from the previous owner, and a closed
 * batch's way out (its Parquet file renamed into place, then one transaction with the file-ready event, the dead
 * letters and the group's offset past the batch).
 */
export class BatchCommitter {
  private readonly transactions: Transactions;
  private readonly faults: ProcessorFaultPoints;
  /** the group's committed offset as last known (null: none) */
  #committed: number | null = null;
  /** next offset to turn into rows: the committed offset, or the partition's first offset when none */
  #next = 0;

  constructor(
    private readonly topic: string,
    private readonly partition: number,
    private readonly deps: CommitterDeps,
    private readonly log: Logger,
  ) {
    this.faults = deps.faults ?? NO_FAULTS;
    const transactionSettings: PartitionTransactionsSettings = {
      transactionalId: `${deps.settings.groupId}-${topic}-${partition}`,
      transactionTimeoutMs: deps.settings.transactionTimeoutMs,
      topic,
      partition,
    };
    this.transactions = deps.createTransactions
      ? deps.createTransactions(transactionSettings, log)
      : new PartitionTransactions(deps.kafka, deps.consumer, transactionSettings, log);
  }

  get committed(): number | null {
    return this.#committed;
  }

  get next(): number {
    return this.#next;
  }

  release(): Promise<void> {
    return this.transactions.close();
  }

  /**
   * Take-over: fence the previous owner, read the committed offset (and so the next one), remove what it wrote but
   * never announced. Resolves how many files were removed.
   */
  async takeOver(): Promise<number> {
    const { admin, store, metrics } = this.deps;
    await this.transactions.fence();
    const committed = await this.fetchCommitted();
    const next = committed ?? Number((await admin.fetchTopicOffsets(this.topic)).find((o) => o.partition === this.partition)?.low ?? 0);
    // A bucket never replaces an object: with no committed offset (a new group), a file left at or after the log
    // start would block its name for ever, and its records are read again from there anyway, so it goes too. (A
    // directory keeps such files, as it always did: the rename of the rewritten file replaces them.)
    const removeFrom = committed ?? (store.bucketLocation ? next : null);
    const doomed = leftoverFiles(await store.listTopicFiles(this.topic), this.topic, this.partition, removeFrom);
    if (doomed.length > 0) {
      this.log.warn({ files: doomed, committed }, 'removing files of this partition that were never announced');
      await store.remove(doomed);
      metrics.leftoversRemoved.inc({ topic: this.topic }, doomed.length);
    }
    this.#committed = committed;
    this.#next = next;
    return doomed.length;
  }

  /** The group's committed offset (null: none). */
  private async fetchCommitted(): Promise<number | null> {
    // Stable: an offset committed by a transaction still in flight is waited for, never read half-done.
    const result = await this.deps.admin.fetchOffsets({ groupId: this.deps.settings.groupId, topics: [this.topic], requireStableOffsets: true });
    const offset = result.find((t) => t.topic === this.topic)?.partitions.find((p) => p.partition === this.partition)?.offset;
    const value = offset === undefined ? -1 : Number(offset);
    return value >= 0 ? value : null;
  }

  /**
   * Writes the batch's file and commits it. Resolves true once committed; false when the batch stopped being
   * current (`isCurrent`: it still belongs to the worker's epoch) while its file was written: not committed, the
   * take-over that follows removes the file. Throws when the transaction failed for good.
   */
  async commitBatch(batch: OpenBatch, reason: CloseReason, isCurrent: () => boolean): Promise<boolean> {
    const { metrics, store, settings } = this.deps;
    const topic = this.topic;
    const range: FileRange = { topic, partition: this.partition, firstOffset: batch.firstOffset, lastOffset: batch.lastOffset };
    const messages: OutgoingMessage[] = [];
    let written: WrittenFile | null = null;
    if (batch.rows.length > 0) {
      const stats = batch.stats;
      const path = relativeFilePath(range, stats.minClusterTime!);
      const endTimer = metrics.fileWriteSeconds.startTimer({ topic });
      const checksums = await store.writeAtomically(path, batch.rows);
      endTimer();
      written = { range, path, rows: batch.rows.length, checksums, location: store.bucketLocation, stats, deadLetters: batch.deadLetters.length, compression: store.compression, writer: store.library };
      this.faults.reached('rename');
      const event = fileReadyEvent(written, new Date());
      messages.push({ topic: settings.filesTopic, message: { key: fileEventKey(topic, this.partition), value: JSON.stringify(event), headers: { file_id: event.file_id } } });
    }
    const failedAt = new Date();
    for (const deadLetter of batch.deadLetters) messages.push(deadLetterMessage(deadLetter, failedAt));
    if (!isCurrent()) return false;
    await this.transact(batch, messages, isCurrent);
    this.#committed = batch.lastOffset + 1;
    this.#next = Math.max(this.#next, this.#committed);
    metrics.transactions.inc({ topic });
    for (const deadLetter of batch.deadLetters) metrics.deadLetters.inc({ topic, reason: deadLetter.reason });
    if (written) {
      metrics.filesWritten.inc({ topic });
      metrics.bytesWritten.inc({ topic }, written.checksums.bytes);
      for (const [op, count] of Object.entries(written.stats.ops)) if (count > 0) metrics.rowsWritten.inc({ topic, op }, count);
    }
    this.log.info(
      { file: written?.path ?? null, rows: batch.rows.length, deadLetters: batch.deadLetters.length, firstOffset: range.firstOffset, lastOffset: range.lastOffset, reason, bytes: written?.checksums.bytes ?? 0 },
      written ? 'file committed' : 'dead letters committed',
    );
    if (written) this.faults.reached('commit');
    return true;
  }

  /**
   * The transaction, retried with backoff on transient errors, each retry on a newly claimed producer id (which ends
   * the failed transaction for sure). The committed offset tells whether a failed attempt had landed: past the
   * batch = it had committed; unchanged = try again; anything else = another owner moved it.
   */
  private async transact(batch: OpenBatch, messages: OutgoingMessage[], isCurrent: () => boolean): Promise<void> {
    await retryTransaction(
      { claim: () => this.transactions.fence(), write: () => this.transactions.commit(messages, batch.lastOffset + 1) },
      {
        landed: async () => {
          const committed = await this.fetchCommitted();
          if (committed !== null && committed > batch.lastOffset) return true;
          if (committed !== this.#committed) throw new OwnershipLostError(`committed offset moved from ${this.#committed} to ${committed}: another owner`);
          return false;
        },
        // fenced, another owner: not retried
        isTransient: (error) => !(error instanceof ServiceError && !error.retriable),
        isWanted: isCurrent,
        signal: this.deps.signal,
        onRetry: () => this.deps.metrics.transactionRetries.inc({ topic: this.topic }),
        logger: this.log,
      },
    );
  }
}
