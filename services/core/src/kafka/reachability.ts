import type { ReadinessCheck } from '../http/readiness.js';
import type { Logger } from '../logging/logger.js';
import type { Admin } from './client.js';

export interface KafkaReachability {
  /** the reason while the cluster has not answered for `notReadyAfterMs`, else null */
  check: ReadinessCheck;
  stop(): void;
}

/**
 * Asks the cluster for its topic list every `everyMs`. librdkafka reconnects by itself and the services keep
 * waiting, so an unreachable cluster is otherwise silent from outside: this names it on /readyz once it has
 * not answered for `notReadyAfterMs`, and clears as soon as it answers again.
 */
export function watchKafkaReachability(admin: Admin, logger: Logger, settings: { notReadyAfterMs: number; everyMs?: number; now?: () => number }): KafkaReachability {
  // several answers within the allowed silence, so that one slow answer does not count as a silent cluster
  const everyMs = settings.everyMs ?? Math.max(250, Math.min(10_000, Math.floor(settings.notReadyAfterMs / 4)));
  const now = settings.now ?? Date.now;
  let lastAnswer = now();
  let lastError: string | null = null;
  let inFlight = false;
  const probe = () => {
    // one request at a time: a slow answer must not pile requests up
    if (inFlight) return;
    inFlight = true;
    admin
      // short: an admin call holds one of libuv's four pool threads (shared with file I/O) until it returns
      .listTopics({ timeout: Math.min(5_000, Math.max(1_000, everyMs)) })
      .then(() => {
        if (lastError) logger.info('Kafka answers again');
        lastAnswer = now();
        lastError = null;
      })
      .catch((error: unknown) => {
        if (!lastError) logger.warn({ err: error }, 'Kafka does not answer');
        lastError = (error as Error).message ?? String(error);
      })
      .finally(() => (inFlight = false));
  };
  probe();
  const timer = setInterval(probe, everyMs);
  timer.unref();
  return {
    check: () => {
      const silentMs = now() - lastAnswer;
      if (silentMs < settings.notReadyAfterMs) return null;
      return `Kafka has not answered for ${Math.round(silentMs / 1000)} s${lastError ? ` (${lastError})` : ''}`;
    },
    stop: () => clearInterval(timer),
  };
}
