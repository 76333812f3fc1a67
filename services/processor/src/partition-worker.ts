import { FatalError, FencedError, retry, ServiceError, type Admin, type Batch, type Consumer, type Kafka, type Logger } from '@cdc/core';
import { OpenBatch, batchStats, type BatchLimits, type CloseReason } from './transform/batch.js';
import { classifyRecord, deadLetterMessage } from './transform/dead-letter.js';
import { leftoverFiles, relativeFilePath, type FileRange } from './sink/file-layout.js';
import { fileEventKey, fileReadyEvent, type WrittenFile } from './sink/file-event.js';
import type { FileStore } from './sink/file-store.js';
import { PartitionTransactions, type OutgoingMessage, type PartitionTransactionsSettings, type Transactions } from './sink/partition-transactions.js';
import type { ProcessorMetrics } from './metrics.js';

export interface WorkerSettings {
  groupId: string;
  filesTopic: string;
  limits: BatchLimits;
  transactionTimeoutMs: number;
  /** after being fenced, how long to wait for the rebalance that should explain it before taking the partition back */
  fenceWaitMs: number;
}

export interface WorkerDeps {
  kafka: Kafka;
  /** the group consumer: its group metadata goes with every transaction's offsets (KIP-447) */
  consumer: Consumer;
  admin: Admin;
  store: FileStore;
  metrics: ProcessorMetrics;
  logger: Logger;
  settings: WorkerSettings;
  /** move the consumer's position of this partition (records from there are delivered again) */
  seek(topic: string, partition: number, offset: number): void;
  isStopping(): boolean;
  /** an error after which the process must end (a stuck client): the service ends as for a fatal error */
  onFatal(error: FatalError): void;
  /** test fault-injection points */
  onRenamed(): void;
  onCommitted(): void;
  /** the partition's transactional producer; unit tests pass a fake */
  createTransactions?: (settings: PartitionTransactionsSettings, logger: Logger) => Transactions;
}

/** What eachBatch hands over besides the batch (librdkafka heartbeats by itself). */
export interface BatchContext {
  resolveOffset(offset: string): void;
  isRunning(): boolean;
  isStale(): boolean;
}

/**
 * new: must recover (fence, read the committed offset, remove unannounced files) before turning records into rows;
 * ready: owns the partition; fenced: another owner claimed the transactional id, waiting for the rebalance.
 * Every change of state goes through `transition`, which refuses any pair not listed here.
 */
type WorkerState = 'new' | 'ready' | 'fenced';
const TRANSITIONS: Readonly<Record<WorkerState, readonly WorkerState[]>> = {
  new: ['new', 'ready'],
  ready: ['new', 'fenced'],
  fenced: ['new'],
};

class OwnershipLostError extends ServiceError {
  constructor(message: string) {
    super(message, { reason: 'ownership-lost' });
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * One input partition: its open batch, its transactional producer, and everything that must not interleave for
 * it (recovery, file writes, transactions) run one at a time on its queue.
 *
 * Invariants: offsets are committed only in the transaction that announces the file (or dead letters) covering
 * them, after the file is renamed into place; a batch belongs to an epoch and is never committed once the epoch
 * has moved on (rebalance, failure), since its records will be read again from the committed offset.
 */
export class PartitionWorker {
  epoch = 0;
  private current: WorkerState = 'new';
  open: OpenBatch | null = null;
  /** the group's committed offset as last known (null: none) */
  committed: number | null = null;
  /** next offset to turn into rows: the committed offset, or the partition's first offset when none */
  next = 0;
  private lastAppended = -1;
  private fencedAt = 0;
  private highWatermark: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly transactions: Transactions;
  private readonly log: Logger;
  private readonly labels: { topic: string; partition: string };

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: WorkerDeps,
  ) {
    this.log = deps.logger.child({ topic, partition });
    this.labels = { topic, partition: String(partition) };
    const transactionSettings: PartitionTransactionsSettings = {
      transactionalId: `${deps.settings.groupId}-${topic}-${partition}`,
      transactionTimeoutMs: deps.settings.transactionTimeoutMs,
      topic,
      partition,
    };
    this.transactions = deps.createTransactions
      ? deps.createTransactions(transactionSettings, this.log)
      : new PartitionTransactions(deps.kafka, deps.consumer, transactionSettings, this.log);
  }

  get state(): WorkerState {
    return this.current;
  }

  /** The single guard of the state machine (see TRANSITIONS). */
  private transition(to: WorkerState): void {
    if (!TRANSITIONS[this.current].includes(to)) throw new Error(`partition worker ${this.topic}/${this.partition}: no transition from ${this.current} to ${to}`);
    this.current = to;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Rebalance: the open batch is dropped (re-delivered from the committed offset); the partition must recover. */
  reset(reason: string): void {
    this.epoch++;
    this.dropOpen(reason);
    this.transition('new');
  }

  /**
   * Assigned: take over now rather than on the first record. A crashed owner's open transaction holds every record
   * after it back from read_committed consumers until it is fenced or times out: waiting for a record would wait
   * for the transaction timeout. Resolves true once ready; false when a rebalance made it stale or it failed (the
   * next batch tries again).
   */
  takeOver(): Promise<boolean> {
    return this.recoverQueued(this.epoch);
  }

  /** Recovery on the partition's queue; a failure is retried by the next batch, unless it is fatal. */
  private async recoverQueued(epoch: number): Promise<boolean> {
    try {
      return await this.enqueue(() => this.recover(epoch));
    } catch (error) {
      if (error instanceof FatalError) this.deps.onFatal(error);
      else this.log.warn({ err: error }, 'take-over failed; retried when the next records arrive');
      return false;
    }
  }

  /** No longer assigned here: release the producer once any running work is done. */
  revoke(): void {
    this.reset('revoked');
    this.deps.metrics.consumerLag.remove(this.labels);
    this.deps.metrics.openBatchAge.remove(this.labels);
    this.deps.metrics.openBatchRows.remove(this.labels);
    void this.enqueue(() => this.transactions.close());
  }

  private dropOpen(reason: string): void {
    if (this.open && !this.open.isEmpty) this.deps.metrics.batchesDropped.inc({ topic: this.topic, reason });
    this.open = null;
  }

  async close(): Promise<void> {
    this.epoch++;
    this.open = null;
    await this.transactions.close();
  }

  /** eachBatch for this partition. */
  async consume(batch: Batch, ctx: BatchContext): Promise<void> {
    this.highWatermark = Number(batch.highWatermark);
    this.updateLag();
    if (this.state === 'fenced') {
      if (Date.now() - this.fencedAt < this.deps.settings.fenceWaitMs) {
        // Someone else claimed the partition: expect the rebalance. Nothing is resolved, so these records are
        // fetched again.
        await sleep(500);
        return;
      }
      this.log.warn('no rebalance followed the fencing; taking the partition back');
      this.transition('new');
    }
    if (this.state === 'new') {
      if (!(await this.recoverQueued(this.epoch))) return;
      const first = Number(batch.messages[0]?.offset ?? this.next);
      if (first > this.next) {
        // Our position ran past the committed offset (a dropped batch): read again from it. Records delivered after
        // the seek are taken as they come (a gap can be transaction markers or aborted records).
        this.deps.seek(this.topic, this.partition, this.next);
        return;
      }
    }
    const { limits } = this.deps.settings;
    for (const message of batch.messages) {
      if (!ctx.isRunning() || ctx.isStale() || this.state !== 'ready') return;
      const offset = Number(message.offset);
      // Below `next`: already in an announced file (the old owner committed after our join). At or below
      // lastAppended: delivered twice.
      if (offset >= this.next && offset > this.lastAppended) {
        this.append(batch.topic, batch.partition, message.key, message.value, offset, message.timestamp);
        const reason = this.open!.closeReason(limits, Date.now());
        if (reason) await this.closeAndFlush(reason);
      }
      if (this.state === 'ready') ctx.resolveOffset(message.offset);
    }
  }

  private append(topic: string, partition: number, key: Buffer | null, value: Buffer | null, offset: number, timestamp: string): void {
    this.open ??= new OpenBatch(this.epoch, Date.now());
    const bytes = (value?.length ?? 0) + (key?.length ?? 0);
    const classified = classifyRecord({ topic, partition, offset, key, value, timestamp });
    if (classified.ok) {
      this.open.addRow(classified.row, bytes);
    } else {
      this.log.warn({ offset, reason: classified.deadLetter.reason, error: classified.deadLetter.error }, 'record goes to the dead-letter topic');
      this.open.addDeadLetter(classified.deadLetter, bytes);
    }
    this.lastAppended = offset;
  }

  /** Called by the age timer. */
  tick(now: number): void {
    const open = this.open;
    this.deps.metrics.openBatchAge.set(this.labels, open && !open.isEmpty ? (now - open.openedAt) / 1000 : 0);
    this.deps.metrics.openBatchRows.set(this.labels, open?.rows.length ?? 0);
    if (this.state !== 'ready' || !open) return;
    const reason = open.closeReason(this.deps.settings.limits, now);
    if (reason) void this.closeAndFlush(reason);
  }

  /** Closes the open batch and queues its file + transaction; resolves when the queue is done (failures are handled inside). */
  closeAndFlush(reason: CloseReason): Promise<void> {
    const batch = this.open;
    this.open = null;
    if (!batch || batch.isEmpty) return this.enqueue(async () => undefined);
    return this.enqueue(() => this.flush(batch, reason));
  }

  /**
   * Take-over: fence the previous owner, read the committed offset, remove what it wrote but never announced.
   * Resolves whether the partition is ready: false when a rebalance made it stale (the next batch recovers again).
   */
  private async recover(epoch: number): Promise<boolean> {
    // Already taken over since it was queued (the take-over at assignment ran first): ready unless reset since.
    if (epoch !== this.epoch || this.state !== 'new') return this.state === 'ready';
    this.open = null;
    await this.transactions.fence();
    const committed = await this.fetchCommitted();
    const next = committed ?? (await this.firstOffset());
    const doomed = leftoverFiles(await this.deps.store.listTopicFiles(this.topic), this.topic, this.partition, committed);
    if (doomed.length > 0) {
      this.log.warn({ files: doomed, committed }, 'removing files of this partition that were never announced');
      await this.deps.store.remove(doomed);
      this.deps.metrics.leftoversRemoved.inc({ topic: this.topic }, doomed.length);
    }
    if (epoch !== this.epoch) return false;
    this.committed = committed;
    this.next = next;
    this.lastAppended = next - 1;
    this.epoch++;
    this.transition('ready');
    this.deps.metrics.recoveries.inc({ topic: this.topic });
    this.updateLag();
    this.log.info({ committed, next, removed: doomed.length }, 'partition taken over');
    return true;
  }

  private async fetchCommitted(): Promise<number | null> {
    // Stable: an offset committed by a transaction still in flight is waited for, never read half-done.
    const result = await this.deps.admin.fetchOffsets({ groupId: this.deps.settings.groupId, topics: [this.topic], requireStableOffsets: true });
    const offset = result.find((t) => t.topic === this.topic)?.partitions.find((p) => p.partition === this.partition)?.offset;
    const value = offset === undefined ? -1 : Number(offset);
    return value >= 0 ? value : null;
  }

  private async firstOffset(): Promise<number> {
    const offsets = await this.deps.admin.fetchTopicOffsets(this.topic);
    return Number(offsets.find((o) => o.partition === this.partition)?.low ?? 0);
  }

  private async flush(batch: OpenBatch, reason: CloseReason): Promise<void> {
    const { metrics, store, settings } = this.deps;
    const topic = this.topic;
    if (batch.epoch !== this.epoch || this.state !== 'ready' || this.deps.isStopping()) {
      metrics.batchesDropped.inc({ topic, reason: 'stale' });
      return;
    }
    const range: FileRange = { topic, partition: this.partition, firstOffset: batch.firstOffset, lastOffset: batch.lastOffset };
    try {
      const messages: OutgoingMessage[] = [];
      let written: WrittenFile | null = null;
      if (batch.rows.length > 0) {
        const stats = batchStats(batch.rows);
        const path = relativeFilePath(range, stats.minClusterTime!);
        const endTimer = metrics.fileWriteSeconds.startTimer({ topic });
        const checksums = await store.writeAtomically(path, batch.rows);
        endTimer();
        written = { range, path, rows: batch.rows.length, checksums, stats, deadLetters: batch.deadLetters.length, compression: store.compression, writer: store.library };
        this.deps.onRenamed();
        const event = fileReadyEvent(written, new Date());
        messages.push({ topic: settings.filesTopic, message: { key: fileEventKey(topic, this.partition), value: JSON.stringify(event), headers: { file_id: event.file_id } } });
      }
      const failedAt = new Date();
      for (const deadLetter of batch.deadLetters) messages.push(deadLetterMessage(deadLetter, failedAt));
      if (batch.epoch !== this.epoch) {
        // Rebalanced while writing: not committed; the take-over that follows removes the file.
        metrics.batchesDropped.inc({ topic, reason: 'rebalance' });
        return;
      }
      await this.commit(batch, messages);
      this.committed = batch.lastOffset + 1;
      this.next = Math.max(this.next, this.committed);
      this.updateLag();
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
      if (written) this.deps.onCommitted();
    } catch (error) {
      if (error instanceof FatalError) {
        this.deps.onFatal(error);
        return;
      }
      if (batch.epoch !== this.epoch) {
        metrics.batchesDropped.inc({ topic, reason: 'rebalance' });
        return;
      }
      // Everything after the last commit is read again: later batches of this epoch must not commit past this one.
      this.epoch++;
      this.open = null;
      if (error instanceof FencedError) {
        this.transition('fenced');
        this.fencedAt = Date.now();
        this.log.warn({ err: error, firstOffset: range.firstOffset }, 'fenced by a newer owner of this partition; batch dropped');
      } else {
        this.transition('new');
        this.log.error({ err: error, firstOffset: range.firstOffset }, 'batch failed; its records will be read again');
      }
      metrics.batchesDropped.inc({ topic, reason: error instanceof FencedError ? 'fenced' : 'failed' });
      if (!this.deps.isStopping()) this.deps.seek(topic, this.partition, this.next);
    }
  }

  /**
   * The transaction, retried with backoff on transient errors. Before a retry a new producer id is claimed (which
   * ends the failed transaction for sure) and the committed offset decides: past the batch = the failed attempt
   * had in fact committed; unchanged = try again; anything else = another owner moved it.
   */
  private async commit(batch: OpenBatch, messages: OutgoingMessage[]): Promise<void> {
    let verified = true;
    const stale = () => batch.epoch !== this.epoch || this.deps.isStopping();
    await retry(
      async () => {
        if (!verified) {
          await this.transactions.fence();
          const committed = await this.fetchCommitted();
          if (committed !== null && committed > batch.lastOffset) {
            this.log.warn({ committed }, 'the failed transaction had committed');
            return;
          }
          if (committed !== this.committed) throw new OwnershipLostError(`committed offset moved from ${this.committed} to ${committed}: another owner`);
          verified = true;
        }
        verified = false;
        await this.transactions.commit(messages, batch.lastOffset + 1);
        verified = true;
      },
      {
        // fenced, another owner, a stuck client: not retried
        isTransient: (error) => !(error instanceof ServiceError && !error.retriable) && !stale(),
        maxAttempts: Number.POSITIVE_INFINITY,
        baseDelayMs: 500,
        maxDelayMs: 30000,
        shouldStop: stale,
        onRetry: ({ attempt, delayMs, error }) => {
          this.deps.metrics.transactionRetries.inc({ topic: this.topic });
          this.log.warn({ err: error, attempt, backoffMs: delayMs }, 'transaction failed; retrying with a new producer');
        },
      },
    );
  }

  private updateLag(): void {
    if (this.highWatermark === null || this.state === 'new') return;
    this.deps.metrics.consumerLag.set(this.labels, Math.max(0, this.highWatermark - this.next));
  }
}
