import { retry, type Logger } from '@cdc/core';
import { gcpErrorInfo, isTransientGcpError } from '@cdc/core/gcp';
import type { LoadHealth } from '../load-health.js';
import type { LoaderMetrics } from '../metrics.js';
import type { LoadableFile } from '../transform/loadable-file.js';

export interface RetrySettings {
  attempts: number;
  baseMs: number;
  maxMs: number;
}

export interface StepRetryDeps {
  retry: RetrySettings;
  metrics: LoaderMetrics;
  /** told of every attempt under way and every failed one: readiness and the failing metrics */
  health: Pick<LoadHealth, 'failed' | 'started'>;
  logger: Logger;
  /** the service's stop, aborted as the shutdown starts: retries end, a backoff wait under way ends at once */
  signal: AbortSignal;
}

// A step retries at once only what goes away by itself (network, 5xx, quota). A downstream fault (permission,
// billing, a missing table) lasts until an operator acts: it fails the group at once, which is then held and
// tried again by the groups, paced by the load-job budget, so that hours of refusals do not spend the day's jobs.
/** Runs one step of a group's load, retrying transient errors with backoff; counted and logged per step name. */
export function retryStep<T>(deps: StepRetryDeps, name: string, files: readonly { file: LoadableFile }[], task: () => Promise<T>): Promise<T> {
  const { metrics, logger } = deps;
  const watched = async () => {
    const over = deps.health.started(name);
    try {
      return await task();
    } finally {
      over();
    }
  };
  return retry(watched, {
    isTransient: isTransientGcpError,
    maxAttempts: deps.retry.attempts,
    baseDelayMs: deps.retry.baseMs,
    maxDelayMs: deps.retry.maxMs,
    signal: deps.signal,
    onRetry: ({ attempt, delayMs, error }) => {
      metrics.retries.inc({ step: name });
      deps.health.failed(error);
      // The error summary only: client errors can carry request headers (an access token).
      logger.warn({ files: files.map((f) => f.file.path), step: name, attempt, delayMs, error: gcpErrorInfo(error) }, `${name} failed with a transient error; retrying`);
    },
  });
}
