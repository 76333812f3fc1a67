import { RetriableError } from '../errors/errors.js';

/** A call to another service (BigQuery, Cloud Storage) that gave no answer in its time: worth trying again. */
export class DeadlineExceeded extends RetriableError {
  constructor(what: string, timeoutMs: number) {
    super(`${what}: no answer within ${timeoutMs / 1000} s`, { reason: 'deadline_exceeded' });
  }
}

/**
 * `work`, or the error of `timedOut` once `timeoutMs` has passed (then `onTimeout` runs, e.g. to cancel a job). The
 * Google Cloud clients have no working deadline of their own (the `timeout` they take is dropped by the fetch they
 * use): an endpoint that accepts the connection and never answers keeps their promise pending for ever.
 */
export async function withTimeout<T>(work: Promise<T>, timeoutMs: number, timedOut: () => Error, onTimeout?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      work.catch(() => undefined);
      onTimeout?.();
      reject(timedOut());
    }, timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** `call()`, or DeadlineExceeded naming `what` once `timeoutMs` has passed. */
export function withDeadlineOf<T>(what: string, timeoutMs: number, call: () => Promise<T>, onTimeout?: () => void): Promise<T> {
  return withTimeout(call(), timeoutMs, () => new DeadlineExceeded(what, timeoutMs), onTimeout);
}
