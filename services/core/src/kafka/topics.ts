import type { Admin, ITopicConfig } from 'kafkajs';

export interface TopicSpec {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
  config?: Record<string, string>;
}

/** Create missing topics; existing ones are left as they are (idempotent, safe across concurrent starts). */
export async function ensureTopics(admin: Admin, specs: TopicSpec[]): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const missing: ITopicConfig[] = specs
    .filter((s) => !existing.has(s.topic))
    .map((s) => ({
      topic: s.topic,
      numPartitions: s.numPartitions,
      replicationFactor: s.replicationFactor,
      configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
    }));
  if (missing.length === 0) return;
  try {
    await admin.createTopics({ topics: missing, waitForLeaders: true });
  } catch (error) {
    // Another instance may have created them between listTopics and createTopics.
    const nowExisting = new Set(await admin.listTopics());
    if (missing.some((t) => !nowExisting.has(t.topic))) throw error;
  }
}

/** The dead-letter topic paired with a topic. */
export function deadLetterTopicOf(topic: string): string {
  return `${topic}.dlq`;
}
