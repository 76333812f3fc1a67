/**
 * What the services throw on purpose, in one hierarchy (as kafkajs's src/errors.js has one): whether trying again
 * can help, how the process ends when it reaches the top, and a short machine-readable reason for logs.
 */
export class ServiceError extends Error {
  readonly retriable: boolean;
  readonly exitCode: number;
  readonly reason: string;

  constructor(message: string, options: { reason: string; retriable?: boolean; exitCode?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.reason = options.reason;
    this.retriable = options.retriable ?? false;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Ends the service with a message for the operator rather than a stack trace (exit code 0: a requested stop). */
export class FatalError extends ServiceError {
  constructor(message: string, options: { reason: string; exitCode?: number; cause?: unknown }) {
    super(message, { ...options, retriable: false, exitCode: options.exitCode ?? 2 });
  }
}

/**
 * A client call that did not return although the client was given a timeout: the client is wedged. Seen with
 * librdkafka's send_offsets_to_transaction, which waits forever for a group coordinator that left the cluster
 * (librdkafka issues 5456 and 5511), blocking one of libuv's four pool threads for good. Nothing in the process can
 * take that thread back (nor let the process exit normally), so the service kills itself and its supervisor
 * restarts it; the take-over after the restart fences the transaction it left open.
 */
export class ClientStuckError extends FatalError {
  constructor(call: string, deadlineMs: number) {
    super(`Kafka client call ${call} did not return within ${deadlineMs} ms: the client is stuck; exiting so that a restart replaces it`, {
      reason: 'kafka-client-stuck',
      // the process kills itself (Shutdown.abort): 128 + SIGKILL is what the supervisor sees
      exitCode: 137,
    });
  }
}

/** A newer owner took the transactional id (or the consumer group moved on): this writer must not commit again. */
export class FencedError extends ServiceError {
  constructor(cause: unknown) {
    super(`fenced by a newer owner: ${(cause as Error)?.message ?? String(cause)}`, { reason: 'fenced', cause });
  }
}

/** Something the retry loops may try again: broker away, timeouts, a transaction that failed but can be redone. */
export class RetriableError extends ServiceError {
  constructor(message: string, options: { reason: string; cause?: unknown }) {
    super(message, { ...options, retriable: true });
  }
}

/**
 * Whether trying again can help, as the error itself says: the services' own errors carry `retriable`, and so do
 * the Kafka client's (KafkaJSError). Anything else has not been classified, so it is not retried.
 */
export function isRetriable(error: unknown): boolean {
  return (error as { retriable?: unknown } | null)?.retriable === true;
}
