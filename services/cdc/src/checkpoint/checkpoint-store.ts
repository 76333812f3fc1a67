import { randomUUID } from 'node:crypto';
import { retry, RetriableError, type Kafka, type Logger, type OutgoingMessage, type TopicSpec } from '@cdc/core';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint.js';

/** Single partition: total order of checkpoints, and one end marker tells a reader it has seen everything. */
const CHECKPOINT_PARTITION = 0;
const MARKER_PREFIX = '__read-marker__/';
/** Reading the topic up to the marker takes seconds (a group join and one partition); a read stuck longer is retried. */
const READ_DEADLINE_MS = 60_000;
const READ_ATTEMPTS = 5;
/** Each read of the checkpoint topic joins a group of its own, named with this prefix and a random suffix. */
export const CHECKPOINT_READER_GROUP_PREFIX = 'cdc-checkpoint-reader-';

/** The checkpoint topic: compacted (the latest checkpoint per stream is what counts), one partition. */
export function checkpointTopicSpec(topic: string, replicationFactor: number): TopicSpec {
  return { topic, numPartitions: 1, replicationFactor, config: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '60000' } };
}

/**
 * Commits one record through the stream's own transactional id, retrying until it is committed. Claiming the id
 * fences and aborts any transaction a previous incarnation left open.
 */
export interface MarkerWriter {
  writeMarker(message: OutgoingMessage): Promise<void>;
}

/** One stream's checkpoints in the checkpoint topic. */
export class CheckpointStore {
  constructor(
    private readonly kafka: Kafka,
    private readonly topic: string,
    private readonly streamId: string,
    private readonly markers: MarkerWriter,
    private readonly logger: Logger,
  ) {}

  message(checkpoint: Checkpoint): OutgoingMessage {
    return { topic: this.topic, message: { key: this.streamId, value: encodeCheckpoint(checkpoint), partition: CHECKPOINT_PARTITION } };
  }

  /**
   * Latest committed checkpoint of the stream. A marker is committed first through the stream's own transactional
   * id (see MarkerWriter); reading the committed records up to that marker then sees every checkpoint ever
   * committed for the stream.
   */
  async load(): Promise<Checkpoint | null> {
    const { streamId } = this;
    const latest = await retry(() => this.readOnce(), {
      isTransient: (error) => error instanceof RetriableError,
      maxAttempts: READ_ATTEMPTS,
      onRetry: ({ attempt, error }) => this.logger.warn({ streamId, attempt, err: error }, 'checkpoint read failed; reading again'),
    });
    this.logger.info({ streamId, checkpoint: latest }, latest ? 'checkpoint loaded' : 'no checkpoint yet');
    return latest;
  }

  private async readOnce(): Promise<Checkpoint | null> {
    const { streamId } = this;
    const markerKey = `${MARKER_PREFIX}${streamId}`;
    const markerValue = randomUUID();
    await this.markers.writeMarker({ topic: this.topic, message: { key: markerKey, value: markerValue, partition: CHECKPOINT_PARTITION } });

    // read_committed: a checkpoint of an aborted transaction names events that were never published.
    const consumer = this.kafka.consumer({
      kafkaJS: { groupId: `${CHECKPOINT_READER_GROUP_PREFIX}${randomUUID()}`, readUncommitted: false, fromBeginning: true, autoCommit: false, allowAutoTopicCreation: false },
      'isolation.level': 'read_committed',
    });
    let latest: Checkpoint | null = null;
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: [this.topic] });
      await new Promise<void>((resolve, reject) => {
        // Without a deadline a consumer that never gets the partition (broker restarting) would wait forever, silently.
        timer = setTimeout(
          () => reject(new RetriableError(`checkpoint topic ${this.topic} not read up to its marker within ${READ_DEADLINE_MS} ms`, { reason: 'checkpoint_read_timeout' })),
          READ_DEADLINE_MS,
        );
        consumer
          .run({
            eachMessage: async ({ message }) => {
              const key = message.key?.toString();
              if (key === streamId && message.value) latest = decodeCheckpoint(message.value);
              if (key === markerKey && message.value?.toString() === markerValue) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
    return latest;
  }
}
