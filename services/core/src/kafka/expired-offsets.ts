import { Gauge, type Registry } from 'prom-client';
import type { ReadinessCheck } from '../http/readiness.js';
import type { Logger } from '../logging/logger.js';
import type { Admin, HaltedPartition } from './client.js';
import { explainAccessRefusal } from './errors.js';

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
  // none yet (a topic pattern nothing matches so far): nothing committed to have expired (the client refuses [])
  if (topics.length === 0) return [];
  const committed = await admin.fetchOffsets({ groupId, topics: [...topics] }).catch((error: unknown) => {
    // the group's first request: a principal without the group's ACL is refused here, before the consumer joins
    throw explainAccessRefusal(error);
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
function expiredOffsetsMessage(settings: ExpiredOffsetsSettings, expired: readonly ExpiredOffset[]): string {
  const { groupId, topics } = settings;
  const where = expired.length
    ? expired.map((e) => `${e.topic}/${e.partition}: committed ${e.committed}, log starts at ${e.logStart} (${e.logStart - e.committed} records gone)`).join('; ')
    : // the client refused to reset a position below the log start, but the committed offsets no longer show it
      `a fetch position below the log start of ${topics.join(',')}`;
  const named = [...new Set(expired.length ? expired.map((e) => e.topic) : topics)].join(',');
  return (
    `consumer group ${groupId} has offsets below the log start (retention deleted records it never consumed): ${where}. ` +
    `Not consuming rather than skipping them: restore the records, or accept the loss with ` +
    `kafka-consumer-groups.sh --group ${groupId} --topic ${named} --reset-offsets --to-earliest --execute, then restart` +
    (settings.afterReset ? `; ${settings.afterReset}` : '')
  );
}

export interface ExpiredOffsetsSettings {
  groupId: string;
  topics: readonly string[];
  registry: Registry;
  metricName: string;
  logger: Logger;
  addReadinessCheck: (name: string, check: ReadinessCheck) => void;
  /** what else the operator can do about the records gone, appended to the message */
  afterReset?: string;
}

/**
 * Records deleted by retention before the group read them stop the service instead of being skipped, whether
 * found before it joins its group or while it consumes. Either way it logs (fatal) what is gone and the
 * operator's options, reports the records gone (`metricName`, per partition) and the reason on /readyz, and does
 * not consume: the group stays empty so that the operator can reset its offsets.
 */
export class ExpiredOffsetsGuard {
  private readonly gauge: Gauge;
  private stopped = false;
  private checking = false;

  constructor(
    private readonly admin: Admin,
    private readonly settings: ExpiredOffsetsSettings,
  ) {
    this.gauge = new Gauge({
      name: settings.metricName,
      help: 'Records deleted by retention before the consumer group read them (committed offset below the log start): the service does not consume',
      labelNames: ['topic', 'partition'],
      registers: [settings.registry],
    });
  }

  /** Before joining the group: false (reported) when a committed offset lies below the log start. */
  async offsetsStillInLog(): Promise<boolean> {
    const expired = await findExpiredOffsets(this.admin, this.settings.groupId, this.settings.topics);
    if (expired.length === 0) return true;
    this.report(expired);
    return false;
  }

  /**
   * While consuming: partitions the consumer has stopped fetching (see createGroupConsumer). Those whose next
   * offset lies below the log start have lost records: the consumer leaves the group (`stopConsuming`), then the
   * committed offsets are reported as above (true). Others (halted for a moment while being assigned) are left alone.
   */
  async checkHalted(halted: readonly HaltedPartition[], stopConsuming: () => Promise<void>): Promise<boolean> {
    if (this.stopped || this.checking) return false;
    this.checking = true;
    try {
      if (!(await this.belowLogStart(halted))) return false;
      this.stopped = true;
      await stopConsuming();
      const expired = await findExpiredOffsets(this.admin, this.settings.groupId, this.settings.topics).catch((error: unknown) => {
        this.settings.logger.warn({ err: error }, 'could not read the committed offsets to name the records gone');
        return [];
      });
      this.report(expired);
      return true;
    } catch (error) {
      // the next statistics report asks again
      this.settings.logger.warn({ err: error, halted }, 'could not compare halted partitions with the log start');
      return false;
    } finally {
      this.checking = false;
    }
  }

  private async belowLogStart(halted: readonly HaltedPartition[]): Promise<boolean> {
    for (const topic of new Set(halted.map((h) => h.topic))) {
      const starts = new Map((await this.admin.fetchTopicOffsets(topic)).map((o) => [o.partition, Number(o.low)]));
      if (halted.some((h) => h.topic === topic && h.next < (starts.get(h.partition) ?? 0))) return true;
    }
    return false;
  }

  private report(expired: readonly ExpiredOffset[]): void {
    for (const e of expired) this.gauge.set({ topic: e.topic, partition: String(e.partition) }, e.logStart - e.committed);
    const message = expiredOffsetsMessage(this.settings, expired);
    this.settings.logger.fatal({ expired }, message);
    this.settings.addReadinessCheck('offsets', () => message);
  }
}
