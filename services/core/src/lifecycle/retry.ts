import { isRetriable } from '../errors/errors.js';

export interface RetryOptions {
  /**
   * true when trying again may help; anything else is thrown at once. Default: the error's own `retriable` (the
   * services' errors and the Kafka client's carry it); errors of other clients are classified by their classifier.
   */
  isTransient?: (error: unknown) => boolean;
  /** attempts in all, the first included; the last error is thrown after them */
  maxAttempts: number;
  /** delay before the first retry; doubles each retry up to maxDelayMs */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** called before each wait (for logs and metrics) */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** aborted: no further attempt, and a wait under way ends at once; the last error is thrown */
  signal?: AbortSignal;
  /** injectable for tests */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Exponential backoff with "full jitter": the n-th wait is uniform in [0, min(max, base * 2^(n-1))]. */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(random() * ceiling);
}

/** Waits `ms`, or less when the signal is aborted meanwhile (it resolves either way: the caller looks at the signal). */
function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `task` until it succeeds, an error that is not transient occurs, the attempts run out, or it is told to stop. */
export async function retry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { isTransient = isRetriable, baseDelayMs = 500, maxDelayMs = 30000, random = Math.random, sleep = abortableSleep, signal } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (!isTransient(error) || attempt >= options.maxAttempts || signal?.aborted) throw error;
      const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs, signal);
      if (signal?.aborted) throw error;
    }
  }
}

export interface PollOptions<T> {
  /** the first wait; each next one is twice as long, up to maxIntervalMs */
  intervalMs: number;
  maxIntervalMs: number;
  /** a value already in hand (say, the answer to the request that started the work): no wait when it is final */
  first?: T;
  /** aborted: the wait under way ends at once and the signal's reason is thrown */
  signal?: AbortSignal;
  /** injectable for tests */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Reads a state until `done` says it is final (a job that runs elsewhere), waiting longer between reads the longer
 * it takes; returns the final state. `undefined` is a state not known yet (polled again). Errors of `read` are
 * thrown: a read that may fail harmlessly says so itself.
 */
export async function poll<T>(read: () => Promise<T | undefined>, done: (state: T) => boolean, options: PollOptions<T>): Promise<T> {
  const { signal, sleep = abortableSleep } = options;
  let state: T | undefined = options.first;
  let wait = options.intervalMs;
  while (state === undefined || !done(state)) {
    signal?.throwIfAborted();
    await sleep(wait, signal);
    signal?.throwIfAborted();
    wait = Math.min(wait * 2, options.maxIntervalMs);
    state = await read();
  }
  return state;
}
