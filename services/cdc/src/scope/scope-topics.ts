import { ensureTopicsWithRetry, FatalError, fields, type Admin, type Logger, type TopicSpec } from '@cdc/core';

export interface ScopeTopicsDeps {
  admin: Admin;
  /** a collection's topic with its dead-letter topic */
  specsOf(topic: string): TopicSpec[];
  attempts: number;
  logger: Logger;
  /** a topic now exists (the stream's topic metric) */
  made(topic: string): void;
}

/**
 * What makes a scope's collection topics: those not made yet by this process are checked by name, then the missing
 * ones are created in ONE admin request (a start finding 50 collections made them one request each before), the
 * existing ones left as they are.
 */
export function scopeTopicMaker(deps: ScopeTopicsDeps): (topics: string[]) => Promise<void> {
  const made = new Set<string>();
  return async (topics) => {
    const fresh = [...new Set(topics)].filter((topic) => !made.has(topic));
    if (fresh.length === 0) return;
    const invalid = fresh.find((topic) => !fields.topicName.safeParse(topic).success);
    if (invalid !== undefined) {
      throw new FatalError(`a collection of the scope would go to topic "${invalid}", not a Kafka topic name (1 to 249 of a-z A-Z 0-9 . _ -): change CDC_TOPIC_TEMPLATE or exclude the collection (CDC_COLLECTION_EXCLUDE)`, { reason: 'topic-name' });
    }
    await ensureTopicsWithRetry(deps.admin, fresh.flatMap(deps.specsOf), { attempts: deps.attempts, logger: deps.logger });
    for (const topic of fresh) {
      deps.made(topic);
      made.add(topic);
    }
  };
}
