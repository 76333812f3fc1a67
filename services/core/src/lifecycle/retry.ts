export interface RetryOptions {
  /** true when the error may go away by itself (network, 5xx, rate limit); anything else is thrown at once */
  isTransient: (error: unknown) => boolean;
  /** attempts in all, the first included; the last error is thrown after them */
  maxAttempts: number;
  /** delay before the first retry; doubles each retry up to maxDelayMs */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** called before each wait (for logs and metrics) */
  onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
  /** stop waiting and throw the last error when this says so (shutdown) */
  shouldStop?: () => boolean;
  /** injectable for tests */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Exponential backoff with "full jitter": the n-th wait is uniform in [0, min(max, base * 2^(n-1))]. */
export function backoffDelay(retry: number, baseDelayMs: number, maxDelayMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.round(random() * ceiling);
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `task` until it succeeds, a non-transient error occurs, or the attempts run out. */
export async function retry<T>(task: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const { baseDelayMs = 500, maxDelayMs = 30000, random = Math.random, sleep = defaultSleep } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await task(attempt);
    } catch (error) {
      if (!options.isTransient(error) || attempt >= options.maxAttempts || options.shouldStop?.()) throw error;
      const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs, random);
      options.onRetry?.({ attempt, delayMs, error });
      await sleep(delayMs);
      if (options.shouldStop?.()) throw error;
    }
  }
}
