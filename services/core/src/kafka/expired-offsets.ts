import { Gauge, type Registry } from 'prom-client';
import type { ReadinessCheck } from '../http/readiness.js';
import type { Logger } from '../logging/logger.js';
import type { Admin } from './client.js';
import { kafkaAccessProblem } from './security.js';

export interface ExpiredOffset {
  topic: string;
  partition: number;
  committed: number;
  /** the partition's first offset still in the log */
  logStart: number;
}

/**
 * Partitions whose committed offset lies below the log start: retention deleted records the group never
 * consumed. Left alone, the consumer would reset to the earliest offset and skip them without a word.
 */
export async function findExpiredOffsets(admin: Admin, groupId: string, topics: readonly string[]): Promise<ExpiredOffset[]> {
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] }).catch((error: Error) => {
    // the group's first request: a principal without the group's ACL is refused here, before the consumer joins
    const problem = kafkaAccessProblem(error);
    throw problem ? new Error(`${problem} (${error.message})`, { cause: error }) : error;
  });
  const expired: ExpiredOffset[] = [];
  for (const { topic, partitions } of committed) {
    // a group that never committed on a partition has offset -1 there: it starts at the beginning, nothing skipped
    const owned = partitions.filter((p) => Number(p.offset) >= 0);
    if (owned.length === 0) continue;
    const starts = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)]));
    for (const { partition, offset } of owned) {
      const logStart = starts.get(partition) ?? 0;
      if (Number(offset) < logStart) expired.push({ topic, partition, committed: Number(offset), logStart });
    }
  }
  return expired;
}

/** The operator's message: what was lost and the two ways on. */
function expiredOffsetsMessage(groupId: string, expired: readonly ExpiredOffset[]): string {
  const where = expired.map((e) => `${e.topic}/${e.partition}: committed ${e.committed}, log starts at ${e.logStart} (${e.logStart - e.committed} records gone)`).join('; ');
  const topics = [...new Set(expired.map((e) => e.topic))].join(',');
  return (
    `consumer group ${groupId} has offsets below the log start (retention deleted records it never consumed): ${where}. ` +
    `Not consuming rather than skipping them: restore the records, or accept the loss with ` +
    `kafka-consumer-groups.sh --group ${groupId} --topic ${topics} --reset-offsets --to-earliest --execute, then restart`
  );
}

/**
 * Checked before a service joins its group: with an expired offset it logs the message, reports the records gone
 * (`metricName`, per partition) and the reason on /readyz, and returns false: the caller does not consume, and
 * the group stays empty so that the operator can reset its offsets.
 */
export async function offsetsStillInLog(
  admin: Admin,
  settings: { groupId: string; topics: readonly string[]; registry: Registry; metricName: string; logger: Logger; addReadinessCheck: (name: string, check: ReadinessCheck) => void },
): Promise<boolean> {
  const gauge = new Gauge({
    name: settings.metricName,
    help: 'Records deleted by retention before the consumer group read them (committed offset below the log start): the service does not consume',
    labelNames: ['topic', 'partition'],
    registers: [settings.registry],
  });
  const expired = await findExpiredOffsets(admin, settings.groupId, settings.topics);
  if (expired.length === 0) return true;
  for (const e of expired) gauge.set({ topic: e.topic, partition: String(e.partition) }, e.logStart - e.committed);
  const message = expiredOffsetsMessage(settings.groupId, expired);
  settings.logger.fatal({ expired }, message);
  settings.addReadinessCheck('offsets', () => message);
  return false;
}
