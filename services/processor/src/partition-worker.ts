import { setTimeout as sleep } from 'node:timers/promises';
import { FatalError, FencedError, type Batch, type EachBatchPayload, type KafkaMessage, type Logger } from '@cdc/core';
import { OpenBatch, type BatchLimits, type CloseReason } from './transform/batch.js';
import { BatchCommitter, type CommitterDeps, type CommitterSettings } from './sink/batch-committer.js';
import { PartitionGauges } from './metrics.js';
import { WorkerStateMachine, type WorkerState } from './worker-state.js';
import type { BatchBudget, BudgetHolder } from './transform/batch-budget.js';

export interface WorkerSettings extends CommitterSettings {
  limits: BatchLimits;
  /** after being fenced, how long to wait for the rebalance that should explain it before taking the partition back */
  fenceWaitMs: number;
}

export interface WorkerDeps extends CommitterDeps {
  logger: Logger;
  settings: WorkerSettings;
  /** move the consumer's position of this partition (records from there are delivered again) */
  seek(topic: string, partition: number, offset: number): void;
  /** an error after which the process must end (a stuck client): the service ends as for a fatal error */
  onFatal(error: FatalError): void;
  /** the record bytes of the instance's open batches together (PROCESSOR_BUFFER_MAX_BYTES) */
  budget: BatchBudget;
}

/** What eachBatch hands over besides the batch (librdkafka heartbeats by itself). */
export type BatchContext = Pick<EachBatchPayload, 'resolveOffset' | 'isStale'>;

/**
 * One input partition: its open batch, its committer, and everything that must not interleave for it (recovery,
 * file writes, transactions) run one at a time on its queue. Its state machine (worker-state.ts) says which
 * operation is legal when.
 *
 * Invariants: offsets are committed only in the transaction that announces the file (or dead letters) covering
 * them, after the file is renamed into place; a batch belongs to an epoch and is never committed once the epoch
 * has moved on (rebalance, failure), since its records will be read again from the committed offset.
 */
export class PartitionWorker implements BudgetHolder {
  private readonly machine: WorkerStateMachine;
  private open: OpenBatch | null = null;
  /** the open batch's bytes as counted in the budget */
  private counted = 0;
  private lastAppended = -1;
  private highWatermark: number | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  /** the flush of the batch closed last (flushes run in order on the queue; failures are handled inside) */
  private flushing: Promise<void> = Promise.resolve();
  private readonly committer: BatchCommitter;
  private readonly log: Logger;
  private readonly gauges: PartitionGauges;

  constructor(
    readonly topic: string,
    readonly partition: number,
    private readonly deps: WorkerDeps,
  ) {
    this.log = deps.logger.child({ topic, partition });
    this.gauges = new PartitionGauges(deps.metrics, topic, partition);
    this.machine = new WorkerStateMachine(`${topic}/${partition}`);
    this.committer = new BatchCommitter(topic, partition, deps, this.log);
  }

  get state(): WorkerState {
    return this.machine.state;
  }

  get committed(): number | null {
    return this.committer.committed;
  }

  get next(): number {
    return this.committer.next;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Rebalance: the open batch is dropped (re-delivered from the committed offset); the partition must recover. */
  reset(reason: string): void {
    if (!this.machine.can('reset')) return;
    this.machine.enter('reset');
    if (this.open && !this.open.isEmpty) this.deps.metrics.batchesDropped.inc({ topic: this.topic, reason });
    this.takeOpen();
  }

  /**
   * Assigned: take over now rather than on the first record. A crashed owner's open transaction holds every record
   * after it back from read_committed consumers until it is fenced or times out: waiting for a record would wait
   * for the transaction timeout. Resolves true once ready; false when a rebalance made it stale or it failed (the
   * next batch tries again).
   */
  async takeOver(): Promise<boolean> {
    const epoch = this.machine.epoch;
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
    this.gauges.remove();
    void this.enqueue(() => this.committer.release());
  }

  async close(): Promise<void> {
    this.machine.enter('close');
    this.takeOpen();
    await this.committer.release();
  }

  /** eachBatch for this partition. */
  async consume(batch: Batch, ctx: BatchContext): Promise<void> {
    this.highWatermark = Number(batch.highWatermark);
    this.updateLag();
    if (this.machine.can('takeBack')) {
      if (Date.now() - this.machine.since < this.deps.settings.fenceWaitMs) {
        // Someone else claimed the partition: expect the rebalance. Nothing is resolved, so these records are
        // fetched again. A shutdown ends the wait at once.
        await sleep(500, undefined, { signal: this.deps.signal }).catch(() => undefined);
        return;
      }
      this.log.warn('no rebalance followed the fencing; taking the partition back');
      this.machine.enter('takeBack');
    }
    if (this.machine.can('recover')) {
      if (!(await this.takeOver())) return;
      const first = Number(batch.messages[0]?.offset ?? this.next);
      if (first > this.next) {
        // Our position ran past the committed offset (a dropped batch): read again from it. Records delivered after
        // the seek are taken as they come (a gap can be transaction markers or aborted records).
        this.deps.seek(this.topic, this.partition, this.next);
        return;
      }
    }
    // The records taken are resolved once, as the batch is left (the client reads them again from after the last
    // resolved one): one offset store call per batch instead of one per record. Not when the epoch moved meanwhile
    // (a failed flush sought back to the committed offset: everything after it is read again).
    const epoch = this.machine.epoch;
    let taken: string | null = null;
    try {
      for (const message of batch.messages) {
        if (this.deps.signal.aborted || ctx.isStale() || !this.machine.can('take')) return;
        const offset = Number(message.offset);
        // Below `next`: already in an announced file (the old owner committed after our join). At or below
        // lastAppended: delivered twice.
        if (offset >= this.next && offset > this.lastAppended) {
          const open = this.append(batch, message, offset);
          const reason = open.closeReason(this.deps.settings.limits, Date.now());
          if (reason) await this.closeBehind(reason);
          else if (this.deps.budget.exceeded && !this.deps.budget.closeLargest(this)) await this.closeBehind('memory');
        }
        if (this.machine.can('take')) taken = message.offset;
      }
    } finally {
      if (taken !== null && this.machine.isCurrent(epoch)) ctx.resolveOffset(taken);
    }
  }

  /**
   * Closes the open batch and lets its file and transaction run on the queue while the next records fill the next
   * batch (the consuming thread does not wait for the encoding, the fsync and the transaction). Waits first for the
   * batch closed before, so a partition holds at most one closed batch besides its open one (bounded memory).
   */
  private async closeBehind(reason: CloseReason): Promise<void> {
    await this.flushing;
    // the batch closed before failed: its records and these are read again from the committed offset
    if (!this.machine.can('take')) return;
    void this.closeAndFlush(reason);
  }

  /** Resolves once every batch closed so far is written and committed, or dropped. */
  async flushed(): Promise<void> {
    await this.flushing;
  }

  private append({ topic, partition }: Batch, { key, value, timestamp }: KafkaMessage, offset: number): OpenBatch {
    this.machine.enter('take');
    const open = (this.open ??= new OpenBatch(this.machine.epoch, Date.now(), this.deps.store.newRows()));
    const deadLetter = open.add({ topic, partition, offset, key, value, timestamp });
    if (deadLetter) this.log.warn({ offset, reason: deadLetter.reason, error: deadLetter.error }, 'record goes to the dead-letter topic');
    this.lastAppended = offset;
    this.deps.budget.change(open.bytes - this.counted);
    this.counted = open.bytes;
    return open;
  }

  /** The open batch, no longer open: its bytes leave the budget (they are in a closed batch, or dropped). */
  private takeOpen(): OpenBatch | null {
    const open = this.open;
    this.open = null;
    this.deps.budget.change(-this.counted);
    this.counted = 0;
    return open;
  }

  get openBytes(): number {
    return this.counted;
  }

  /** The budget's call (another partition's records took the instance over it): this batch becomes a file now. */
  closeEarly(): boolean {
    if (!this.machine.can('flush') || !this.open || this.open.isEmpty) return false;
    void this.closeAndFlush('memory');
    return true;
  }

  /** Called by the age timer. */
  tick(now: number): void {
    const open = this.open;
    this.gauges.openBatch(open, now);
    if (!this.machine.can('flush') || !open) return;
    const reason = open.closeReason(this.deps.settings.limits, now);
    if (reason) void this.closeAndFlush(reason);
  }

  /** Closes the open batch and queues its file + transaction; resolves when the queue is done (failures are handled inside). */
  closeAndFlush(reason: CloseReason): Promise<void> {
    const batch = this.takeOpen();
    if (!batch || batch.isEmpty) return this.enqueue(async () => undefined);
    this.deps.metrics.batchesClosed.inc({ topic: this.topic, reason });
    const run = this.enqueue(() => this.flush(batch, reason));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  /**
   * Take-over: fence the previous owner, read the committed offset, remove what it wrote but never announced.
   * Resolves whether the partition is ready: false when a rebalance made it stale (the next batch recovers again).
   */
  private async recover(epoch: number): Promise<boolean> {
    // Already taken over since it was queued (the take-over at assignment ran first): ready unless reset since.
    if (!this.machine.isCurrent(epoch) || !this.machine.can('recover')) return this.machine.can('take');
    this.takeOpen();
    const removed = await this.committer.takeOver();
    if (!this.machine.isCurrent(epoch)) return false;
    this.lastAppended = this.next - 1;
    this.machine.enter('recover');
    this.deps.metrics.recoveries.inc({ topic: this.topic });
    this.updateLag();
    this.log.info({ committed: this.committed, next: this.next, removed }, 'partition taken over');
    return true;
  }

  private async flush(batch: OpenBatch, reason: CloseReason): Promise<void> {
    const drop = (why: string) => this.deps.metrics.batchesDropped.inc({ topic: this.topic, reason: why });
    if (!this.machine.isCurrent(batch.epoch) || !this.machine.can('flush') || this.deps.signal.aborted) return drop('stale');
    this.machine.enter('flush');
    const isCurrent = () => this.machine.isCurrent(batch.epoch);
    try {
      // Rebalanced while writing: not committed; the take-over that follows removes the file.
      if (await this.committer.commitBatch(batch, reason, isCurrent)) this.updateLag();
      else drop('rebalance');
    } catch (error) {
      if (error instanceof FatalError) return this.deps.onFatal(error);
      if (!isCurrent()) return drop('rebalance');
      // Everything after the last commit is read again: later batches of this epoch must not commit past this one.
      const fenced = error instanceof FencedError;
      this.machine.enter(fenced ? 'fence' : 'fail');
      this.takeOpen();
      if (fenced) this.log.warn({ err: error, firstOffset: batch.firstOffset }, 'fenced by a newer owner of this partition; batch dropped');
      else this.log.error({ err: error, firstOffset: batch.firstOffset }, 'batch failed; its records will be read again');
      drop(fenced ? 'fenced' : 'failed');
      if (!this.deps.signal.aborted) this.deps.seek(this.topic, this.partition, this.next);
    }
  }

  private updateLag(): void {
    if (this.highWatermark !== null && this.machine.can('reportLag')) this.gauges.lag(this.highWatermark, this.next);
  }
}
