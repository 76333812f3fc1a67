import { assignmentOf, createGroupConsumer, type HaltedPartition, decodeFileReadyEvent, isRejoin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Logger } from '@cdc/core';
import { PartitionProgress } from './partition-progress.js';
import { fromFileReadyEvent, isSafeRelativePath } from '../transform/loadable-file.js';
import type { FileGroups } from '../file-groups.js';
import type { LoaderMetrics } from '../metrics.js';

export interface FileEventsSettings {
  groupId: string;
  filesTopic: string;
  concurrency: number;
  sessionTimeoutMs: number;
  /** a partition is paused while this many of its files are handed over and not yet committed */
  maxInFlightPerPartition: number;
  /** librdkafka's report of the assigned partitions it does not fetch (see createGroupConsumer) */
  onHalted: (partitions: HaltedPartition[]) => void;
}

/**
 * Events mode: the consumer group of the files topic (read_committed: the processor announces files in
 * transactions, and an aborted announcement names a file that will be removed). Each batch is handed to the groups
 * and eachBatch returns at once: the client fetches only while no batch is being handled, so holding a batch until
 * its files load would let a group see one partition's files only. Offsets are committed per partition in order as
 * the files' groups finish (`PartitionProgress`); a file's offset is committed only once it is loaded, merged and
 * marked (or quarantined). After a crash the uncommitted files are delivered again, and loading one again adds
 * nothing (records already in the changes table are skipped).
 */
export class FileEventsSource {
  private readonly consumer: Consumer;
  private readonly progress = new Map<number, PartitionProgress>();
  private readonly paused = new Set<number>();
  private readonly highWatermarks = new Map<number, number>();
  /** no longer consuming: stopped by the shutdown, or halted (committed offsets below the log start) */
  private stoppedConsuming = false;

  constructor(
    kafka: Kafka,
    private readonly groups: FileGroups,
    private readonly metrics: LoaderMetrics,
    private readonly logger: Logger,
    private readonly settings: FileEventsSettings,
    /** a file neither loaded nor quarantined (not a shutdown): the service stops, the file comes again after a restart */
    private readonly fail: (error: unknown) => void,
    /** the service's stop: events are no longer handed to the groups, which hand waiting files back */
    private readonly signal: AbortSignal,
  ) {
    this.consumer = createGroupConsumer(kafka, {
      groupId: settings.groupId,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      onHalted: settings.onHalted,
      onRebalance: ({ kind, partitions }) => {
        if (kind === 'assign') {
          this.logger.info({ assignment: assignmentOf(partitions) }, 'joined the consumer group');
          return;
        }
        this.logger.info({ revoked: assignmentOf(partitions) }, 'partitions revoked');
        // Their files in flight still load (harmlessly again if the next owner loads them too); committing their
        // offsets is the next owner's job, from the last offset committed.
        for (const { partition } of partitions) this.forget(partition);
      },
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.settings.filesTopic] });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: async (payload) => this.eachBatch(payload),
    });
  }

  private eachBatch({ batch, resolveOffset }: EachBatchPayload): void {
    if (this.stoppedConsuming || this.signal.aborted) return;
    const { topic, partition } = batch;
    const progress = this.progressOf(partition);
    for (const message of batch.messages) {
      progress.track(Number(message.offset), this.handle(topic, partition, message));
      // Handed over, so the client moves on; resolving is not committing (commits follow the loads).
      resolveOffset(message.offset);
    }
    this.highWatermarks.set(partition, Number(batch.highWatermark));
    if (progress.size >= this.settings.maxInFlightPerPartition && !this.paused.has(partition)) {
      this.paused.add(partition);
      this.consumer.pause([{ topic, partitions: [partition] }]);
      this.logger.info({ partition, inFlight: progress.size }, 'partition paused until more of its files are loaded');
    }
  }

  /** The partition's tracker, for as long as this member owns the partition. */
  private progressOf(partition: number): PartitionProgress {
    const current = this.progress.get(partition);
    if (current) return current;
    const topic = this.settings.filesTopic;
    const progress: PartitionProgress = new PartitionProgress({
      committable: async (next) => {
        try {
          await this.consumer.commitOffsets([{ topic, partition, offset: String(next) }]);
        } catch (error) {
          // The next commit covers these files; if none comes, they are delivered again (and found loaded).
          this.logger.warn({ err: error, topic, partition, offset: next }, isRejoin(error) ? 'offset commit refused by the group coordinator (rebalance)' : 'offset commit failed');
        }
        // A transaction marker after the last event counts as one (librdkafka hands over records only).
        this.metrics.consumerLag.set({ topic, partition: String(partition) }, Math.max(0, (this.highWatermarks.get(partition) ?? next) - next));
        if (this.paused.has(partition) && progress.size < this.settings.maxInFlightPerPartition / 2) this.resume(partition);
      },
      failed: (offset, error) => {
        // Stopping hands waiting files back: not loaded, not committed, delivered again after the restart.
        if (this.stoppedConsuming || this.signal.aborted) return;
        this.logger.error({ err: error, topic, partition, offset }, 'file-ready event neither loaded nor quarantined');
        this.fail(error);
      },
    });
    this.progress.set(partition, progress);
    return progress;
  }

  private resume(partition: number): void {
    if (!this.paused.delete(partition)) return;
    this.consumer.resume([{ topic: this.settings.filesTopic, partitions: [partition] }]);
  }

  private forget(partition: number): void {
    this.progress.get(partition)?.close();
    this.progress.delete(partition);
    this.highWatermarks.delete(partition);
    this.resume(partition);
  }

  private async handle(topic: string, partition: number, message: KafkaMessage): Promise<void> {
    const origin = { key: message.key?.toString() ?? null, event: message.value, source: { topic, partition, offset: message.offset } };
    let file;
    try {
      if (!message.value) throw new Error('record has no value');
      file = fromFileReadyEvent(decodeFileReadyEvent(message.value));
      if (!isSafeRelativePath(file.path)) throw new Error(`path ${JSON.stringify(file.path)} is not a relative .parquet path inside the input directory`);
    } catch (error) {
      await this.groups.rejectEvent(`invalid file-ready event: ${(error as Error).message}`, origin);
      return;
    }
    await this.groups.submit(file, origin);
  }

  async stop(): Promise<void> {
    this.stoppedConsuming = true;
    // Commits of files that finished loading go out before the consumer leaves (after the settled files' callbacks ran).
    await new Promise((resolve) => setImmediate(resolve));
    await Promise.all([...this.progress.values()].map((p) => p.settled()));
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
  }
}
