import type { Admin } from './client.js';
import type { Logger } from '../logging/logger.js';
import { retry } from '../lifecycle/retry.js';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  config?: Record<string, string>;
}

/** Create missing topics; existing ones are left as they are (idempotent, safe across concurrent starts). */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: s.replicationFactor,
      configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing });
  } catch (error) {
    // Another instance may have created them between listTopics and createTopics.
    const nowExisting = new Set(await admin.listTopics());
    if (missing.some((t) => !nowExisting.has(t.topic))) throw error;
  }
}

/**
 * ensureTopics at start-up, when the broker may still be coming up: librdkafka connects lazily, so this is the
 * first request that needs it; failures are retried with backoff `attempts` times in all.
 */
export async function ensureTopicsWithRetry(admin: Admin, specs: TopicSpec[], options: { attempts: number; logger: Logger }): Promise<void> {
  await retry(() => ensureTopics(admin, specs), {
    isTransient: () => true,
    maxAttempts: Math.max(1, options.attempts),
    baseDelayMs: 300,
    maxDelayMs: 10000,
    onRetry: ({ attempt, delayMs, error }) => options.logger.warn({ err: error, attempt, delayMs }, 'Kafka not reachable yet; retrying'),
  });
}

/** The dead-letter topic paired with a topic. */
export function deadLetterTopicOf(topic: string): string {
  return `${topic}.dlq`;
}
