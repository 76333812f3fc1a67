import { assignmentOf, createGroupConsumer, decodeFileReadyEvent, isRejoin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Logger } from '@cdc/core';
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
 * Events mode: the consumer group of the files topic (read_committed: the processor announces files in
 * transactions, and an aborted announcement names a file that will be removed). Every file of a batch is handed to
 * the groups at once (the files of all partitions being consumed share a group); offsets are committed in order as
 * the files' groups finish. A file's offset is committed only once it is loaded, merged and marked (or quarantined):
 * after a crash it is delivered again, and loading it again adds nothing (records already in the changes table are
 * skipped).
 */
export class FileEventsSource {
  private readonly consumer: Consumer;
  private stopping = false;

  constructor(
    kafka: Kafka,
    private readonly groups: FileGroups,
    private readonly metrics: LoaderMetrics,
    private readonly logger: Logger,
    private readonly settings: FileEventsSettings,
  ) {
    this.consumer = createGroupConsumer(kafka, {
      groupId: settings.groupId,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      onRebalance: ({ kind, partitions }) =>
        kind === 'assign'
          ? this.logger.info({ assignment: assignmentOf(partitions) }, 'joined the consumer group')
          : this.logger.info({ revoked: assignmentOf(partitions) }, 'partitions revoked'),
    });
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [this.settings.filesTopic] });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.concurrency,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  private async eachBatch({ batch, resolveOffset, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const labels = { topic: batch.topic, partition: String(batch.partition) };
    const highWatermark = Number(batch.highWatermark);
    /** false when the group moved on (member expelled, rebalance): the batch is re-delivered, and reloads are no-ops. */
    const commit = async (next: number): Promise<boolean> => {
      try {
        await this.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(next) }]);
      } catch (error) {
        if (!isRejoin(error)) throw error;
        this.logger.warn({ err: error, topic: batch.topic, partition: batch.partition }, 'offset commit refused by the group coordinator; rejoining');
        return false;
      }
      // A transaction marker after the last event counts as one (librdkafka hands over records only).
      this.metrics.consumerLag.set(labels, Math.max(0, highWatermark - next));
      return true;
    };
    const handled = batch.messages.map((message) => ({ message, done: this.handle(batch.topic, batch.partition, message) }));
    // Settled in order below; those after a failure are not awaited (their files come again).
    for (const { done } of handled) done.catch(() => undefined);
    for (const { message, done } of handled) {
      if (this.stopping || this.groups.stopped || !isRunning() || isStale()) return;
      try {
        await done;
      } catch (error) {
        // Stopping hands waiting files back: not loaded, not committed.
        if (this.groups.stopped) return;
        throw error;
      }
      if (!(await commit(Number(message.offset) + 1))) return;
      resolveOffset(message.offset);
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

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
  }
}
