import { assignmentOf, createGroupConsumer, decodeFileReadyEvent, isRejoin, type Consumer, type EachBatchPayload, type Kafka, type KafkaMessage, type Logger } from '@cdc/core';
import { fromFileReadyEvent, isSafeRelativePath } from '../transform/loadable-file.js';
import type { FileLoader } from '../file-loader.js';
import type { LoaderMetrics } from '../metrics.js';

export interface FileEventsSettings {
  groupId: string;
  filesTopic: string;
  concurrency: number;
  sessionTimeoutMs: number;
}

/**
 * Events mode: the consumer group of the files topic (read_committed: the processor announces files in
 * transactions, and an aborted announcement names a file that will be removed). Files of one files-topic
 * partition (hence of one source partition: the key is `<topic>-<partition>`) load one after the other,
 * partitions in parallel up to the concurrency. A file's offset is committed only once it is loaded, merged and
 * marked (or quarantined): after a crash it is delivered again, and the job id derived from the file makes that
 * harmless.
 */
export class FileEventsSource {
  private readonly consumer: Consumer;
  private stopping = false;

  constructor(
    kafka: Kafka,
    private readonly loader: FileLoader,
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
    for (const message of batch.messages) {
      if (this.stopping || !isRunning() || isStale()) return;
      await this.handle(batch.topic, batch.partition, message);
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
      await this.loader.rejectEvent(`invalid file-ready event: ${(error as Error).message}`, origin);
      return;
    }
    await this.loader.load(file, origin);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
  }
}
