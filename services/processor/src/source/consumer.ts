import type { Admin, Consumer, Kafka } from 'kafkajs';
import { createGroupConsumer, type GroupConsumer, type Logger } from '@cdc/core';
import { PartitionWorker, type WorkerSettings } from '../partition-worker.js';
import type { FileStore } from '../sink/file-store.js';
import type { ProcessorMetrics } from '../metrics.js';

export interface ConsumerSettings extends WorkerSettings {
  topics: string[];
  sessionTimeoutMs: number;
  partitionsConcurrency: number;
  crashAfterRename: number;
  crashAfterCommit: number;
}

/**
 * The consumer group side: read_committed, no auto-commit, eachBatch handed to the partition's worker. Group
 * joins drop every open batch (kafkajs restarts each partition from its committed offset) and make each
 * partition recover on first sight. An age timer closes batches when no record arrives.
 */
export class CdcTopicConsumer {
  private readonly workers = new Map<string, PartitionWorker>();
  private readonly consumer: Consumer;
  private readonly retry: GroupConsumer['retry'];
  private stopping = false;
  private timer: NodeJS.Timeout | null = null;
  private renamed = 0;
  private committed = 0;
  private generation = 0;
  /** rejects when the consumer crashes for good */
  readonly failed: Promise<never>;

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: Admin,
    private readonly store: FileStore,
    private readonly metrics: ProcessorMetrics,
    private readonly logger: Logger,
    private readonly settings: ConsumerSettings,
  ) {
    const group = createGroupConsumer(kafka, { groupId: settings.groupId, sessionTimeoutMs: settings.sessionTimeoutMs, heartbeatIntervalMs: settings.heartbeatEveryMs }, logger, () => this.stopping);
    this.consumer = group.consumer;
    this.retry = group.retry;
    this.failed = group.failed;
    this.consumer.on(this.consumer.events.GROUP_JOIN, ({ payload }) => this.onGroupJoin(payload.memberAssignment));
  }

  private onGroupJoin(assignment: Record<string, number[]>): void {
    this.generation++;
    for (const worker of this.workers.values()) {
      if (assignment[worker.topic]?.includes(worker.partition)) worker.reset('rebalance');
      else worker.revoke();
    }
    this.logger.info({ generation: this.generation, assignment }, 'joined the consumer group; partitions recover on first record');
  }

  private worker(topic: string, partition: number): PartitionWorker {
    const key = `${topic}\u0000${partition}`;
    let worker = this.workers.get(key);
    if (!worker) {
      worker = new PartitionWorker(topic, partition, {
        kafka: this.kafka,
        admin: this.admin,
        store: this.store,
        metrics: this.metrics,
        logger: this.logger,
        settings: this.settings,
        seek: (t, p, offset) => this.seek(t, p, offset),
        isStopping: () => this.stopping,
        onRenamed: () => {
          if (++this.renamed === this.settings.crashAfterRename) this.crash('PROCESSOR_TEST_CRASH_AFTER_RENAME');
        },
        onCommitted: () => {
          if (++this.committed === this.settings.crashAfterCommit) this.crash('PROCESSOR_TEST_CRASH_AFTER_COMMIT');
        },
      });
      this.workers.set(key, worker);
    }
    return worker;
  }

  /** Test fault injection: die like a power cut, no shutdown steps. */
  private crash(hook: string): void {
    this.logger.warn({ hook }, 'fault injection: SIGKILL now');
    process.kill(process.pid, 'SIGKILL');
  }

  private seek(topic: string, partition: number, offset: number): void {
    try {
      this.consumer.seek({ topic, partition, offset: String(offset) });
    } catch (error) {
      // Not running (rejoining or stopping): the join restarts the partition from its committed offset anyway.
      this.logger.debug({ err: error, topic, partition }, 'seek skipped');
    }
  }

  async start(): Promise<void> {
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: this.settings.topics, fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.settings.partitionsConcurrency,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (this.stopping) return;
        await this.worker(batch.topic, batch.partition).consume(batch, { resolveOffset, heartbeat, isRunning, isStale });
        this.retry.markHealthy();
      },
    });
    const tickMs = Math.max(50, Math.min(1000, Math.floor(this.settings.limits.maxAgeMs / 4)));
    this.timer = setInterval(() => {
      const now = Date.now();
      for (const worker of this.workers.values()) worker.tick(now);
    }, tickMs);
  }

  /** SIGTERM: stop consuming, drop open batches (they are read again), release producers. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.consumer.disconnect().catch((error: unknown) => this.logger.warn({ err: error }, 'consumer disconnect failed'));
    await Promise.allSettled([...this.workers.values()].map((worker) => worker.close()));
  }
}
