import { ClientStuckError } from '../errors/errors.js';

/**
 * How long a client call that the client itself bounds at 5 s (send_offsets_to_transaction, commit and abort of a
 * transaction, init_transactions) may take before it counts as stuck: room for queueing behind other calls on
 * libuv's pool.
 */
export const CLIENT_CALL_DEADLINE_MS = 30_000;

/**
 * The call's result, or ClientStuckError once `deadlineMs` has passed. The call itself is not cancelled (a native
 * call cannot be): the error is for a caller that then gives the client up.
 */
export function withDeadline<T>(call: string, deadlineMs: number, run: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ClientStuckError(call, deadlineMs)), deadlineMs);
  });
  return Promise.race([run(), deadline]).finally(() => clearTimeout(timer));
}
