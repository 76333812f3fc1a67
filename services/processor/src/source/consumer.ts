import { assignmentOf, createGroupConsumer, type HaltedPartition, type Admin, type FatalError, type Consumer, type Kafka, type Logger, type TopicPartition } from '@cdc/core';
import { PartitionWorker, type WorkerSettings } from '../partition-worker.js';
import type { FileStore } from '../sink/file-store.js';
import type { ProcessorMetrics } from '../metrics.js';
import type { ProcessorFaultPoints } from '../fault-points.js';
import { BatchBudget } from '../transform/batch-budget.js';

export interface ConsumerSettings extends WorkerSettings {
  /** the input topics: named, or every topic matching a pattern (also those created later) */
  topics: string[] | RegExp;
  /** with a pattern: how often the topic list is fetched again */
  topicRefreshMs?: number;
  sessionTimeoutMs: number;
  partitionsConcurrency: number;
  /** the tests' crash hooks */
  faults: ProcessorFaultPoints;
  /** KAFKA_MAX_MESSAGE_BYTES: the largest record the consumer must be able to fetch */
  maxMessageBytes?: number;
  /** KAFKA_CONSUMER_PREFETCH_BYTES: the most the consumer fetches ahead */
  prefetchBytes?: number;
  /** librdkafka's report of the assigned partitions it does not fetch (see createGroupConsumer) */
  onHalted: (partitions: HaltedPartition[]) => void;
  /** PROCESSOR_BUFFER_MAX_BYTES: the record bytes of all open batches together */
  bufferMaxBytes: number;
}

const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/**
 * The consumer group side: read_committed, no auto-commit, eachBatch handed to the partition's worker. Every
 * rebalance drops the open batches of the partitions it touches (librdkafka restarts them from the committed
 * offset) and takes each assigned partition over at once (fencing a crashed owner's open transaction, which
 * would otherwise hold the partition's records back until it timed out). An age timer closes batches when no record
 * arrives.
 */
export class CdcTopicConsumer {
  private readonly workers = new Map<string, PartitionWorker>();
  private readonly budget: BatchBudget;
  private readonly consumer: Consumer;
  private timer: NodeJS.Timeout | null = null;
  private rebalances = 0;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly store: FileStore,
    private readonly metrics: ProcessorMetrics,
    private readonly logger: Logger,
    private readonly settings: ConsumerSettings,
    /** the service's way out (ServiceContext.fail, which aborts `signal`); called once */
    private readonly onFatal: (error: FatalError) => void,
    /** the service's stop, aborted as the shutdown starts: batches are no longer taken, open ones are dropped */
    private readonly signal: AbortSignal,
  ) {
    this.budget = new BatchBudget(settings.bufferMaxBytes, () => this.workers.values());
    this.consumer = createGroupConsumer(kafka, {
      groupId: settings.groupId,
      sessionTimeoutMs: settings.sessionTimeoutMs,
      maxMessageBytes: settings.maxMessageBytes,
      prefetchBytes: settings.prefetchBytes,
      metadataRefreshMs: settings.topics instanceof RegExp ? settings.topicRefreshMs : undefined,
      onHalted: settings.onHalted,
      onRebalance: ({ kind, partitions }) => this.onRebalance(kind, partitions),
    });
  }

  private onRebalance(kind: 'assign' | 'revoke', partitions: TopicPartition[]): void {
    this.rebalances++;
    if (kind === 'revoke') {
      for (const { topic, partition } of partitions) this.workers.get(keyOf(topic, partition))?.revoke();
      this.logger.info({ rebalance: this.rebalances, revoked: assignmentOf(partitions) }, 'partitions revoked');
      return;
    }
    this.logger.info({ rebalance: this.rebalances, assignment: assignmentOf(partitions) }, 'joined the consumer group; taking the partitions over');
    for (const { topic, partition } of partitions) {
      const worker = this.worker(topic, partition);
      worker.reset('rebalance');
      void worker.takeOver();
    }
  }

  private worker(topic: string, partition: number): PartitionWorker {
    const key = keyOf(topic, partition);
    let worker = this.workers.get(key);
    if (!worker) {
      worker = new PartitionWorker(topic, partition, {
        kafka: this.kafka,
        consumer: this.consumer,
        admin: this.admin,
        store: this.store,
        metrics: this.metrics,
        logger: this.logger,
        settings: this.settings,
        seek: (t, p, offset) => this.seek(t, p, offset),
        signal: this.signal,
        onFatal: (error) => this.fail(error),
        budget: this.budget,
        faults: this.settings.faults,
      });
      this.workers.set(key, worker);
    }
    return worker;
  }

  private fail(error: FatalError): void {
    if (this.signal.aborted) return;
    this.onFatal(error);
  }

  private seek(topic: string, partition: number, offset: number): void {
    try {
      this.consumer.seek({ topic, partition, offset: String(offset) });
    } catch (error) {
      // Not connected (stopping): the next owner starts from the committed offset anyway.
      this.logger.debug({ err: error, topic, partition }, 'seek skipped');
    }
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.settings.topics instanceof RegExp ? [this.settings.topics] : this.settings.topics });
    await this.consumer.run({
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.partitionsConcurrency,
      eachBatch: async ({ batch, resolveOffset, isStale }) => {
        if (this.signal.aborted) return;
        await this.worker(batch.topic, batch.partition).consume(batch, { resolveOffset, isStale });
      },
    });
    const tickMs = Math.max(50, Math.min(1000, Math.floor(this.settings.limits.maxAgeMs / 4)));
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const worker of this.workers.values()) worker.tick(now);
    }, tickMs);
  }

  /** A shutdown step (the signal is aborted: no batch is taken any more): drop open batches (they are read again), release producers. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
    await Promise.allSettled([...this.workers.values()].map((worker) => worker.close()));
  }
}
