import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import { createGroupConsumer, decodeFileReadyEvent, isRejoinError, type GroupConsumer, type Logger } from '@cdc/core';
import { fromFileReadyEvent, isSafeRelativePath } from '../transform/loadable-file.js';
import type { FileGroups } from '../file-groups.js';
import type { LoaderMetrics } from '../metrics.js';

export interface FileEventsSettings {
  groupId: string;
  filesTopic: string;
  concurrency: number;
  sessionTimeoutMs: number;
}

/**
 * Events mode: the consumer group of the files topic. Every file of a batch is handed to the groups at once (the
 * files of all partitions being consumed share a group); offsets are committed in order as the files' groups finish.
 * A file's offset is committed only once it is loaded, merged and marked (or quarantined): after a crash it is
 * delivered again, and loading it again adds nothing (records already in the changes table are skipped).
 */
export class FileEventsSource {
  private readonly consumer: Consumer;
  private readonly retry: GroupConsumer['retry'];
  private stopping = false;
  readonly failed: Promise<never>;

  constructor(
    kafka: Kafka,
    private readonly groups: FileGroups,
    private readonly metrics: LoaderMetrics,
    private readonly logger: Logger,
    private readonly settings: FileEventsSettings,
  ) {
    const group = createGroupConsumer(kafka, { groupId: settings.groupId, sessionTimeoutMs: settings.sessionTimeoutMs }, logger, () => this.stopping);
    this.consumer = group.consumer;
    this.retry = group.retry;
    this.failed = group.failed;
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.logger.info({ assignment: payload.memberAssignment }, 'joined the consumer group'));
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.settings.filesTopic], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private async eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const labels = { topic: batch.topic, partition: String(batch.partition) };
    const highWatermark = Number(batch.highWatermark);
    /** false when the group moved on (member expelled, rebalance): the batch is re-delivered, and reloads are no-ops. */
    const commit = async (next: number): Promise<boolean> => {
      try {
        await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]);
      } catch (error) {
        if (!isRejoinError(error)) throw error;
        this.logger.warn({ err: error, topic: batch.topic, partition: batch.partition }, 'offset commit refused by the group coordinator; rejoining');
        return false;
      }
      this.metrics.consumerLag.set(labels, Math.max(0, highWatermark - next));
      return true;
    };
    let next = -1;
    const handled = batch.messages.map((message) => ({ message, done: this.handle(batch.topic, batch.partition, message) }));
    // Settled in order below; those after a failure are not awaited (their files come again).
    for (const { done } of handled) done.catch(() => undefined);
    for (const { message, done } of handled) {
      if (this.stopping || this.groups.stopped || !isRunning() || isStale()) return;
      try {
        await this.withHeartbeats(heartbeat, done);
      } catch (error) {
        // Stopping hands waiting files back: not loaded, not committed.
        if (this.groups.stopped) return;
        throw error;
      }
      next = Number(message.offset) + 1;
      if (!(await commit(next))) return;
      resolveOffset(message.offset);
      this.retry.markHealthy();
    }
    // Transaction markers (the processor announces files in transactions) and aborted records after the last
    // file-ready event: commit past them too, so the committed offset reaches the end of the partition.
    if (batch.firstOffset() !== null && !this.stopping && !this.groups.stopped && isRunning() && !isStale()) {
      const last = Number(batch.lastOffset());
      if (last + 1 > next && (await commit(last + 1))) resolveOffset(String(last));
    }
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

  /** Long loads keep the group membership alive. */
  private async withHeartbeats<T>(heartbeat: () => Promise<void>, work: Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      heartbeat().catch((error: unknown) => this.logger.debug({ err: error }, 'heartbeat failed'));
    }, Math.max(500, Math.floor(this.settings.sessionTimeoutMs / 3)));
    try {
      return await work;
    } finally {
      clearInterval(timer);
    }
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
  }
}
