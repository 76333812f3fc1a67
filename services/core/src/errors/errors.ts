import { KafkaErrorCodes } from '../kafka/client.js';

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

const FENCED_CODES = new Set<number>([
  KafkaErrorCodes.ERR__FENCED,
  KafkaErrorCodes.ERR_PRODUCER_FENCED,
  KafkaErrorCodes.ERR_INVALID_PRODUCER_EPOCH,
  KafkaErrorCodes.ERR_INVALID_PRODUCER_ID_MAPPING,
  KafkaErrorCodes.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
  // KIP-447: the consumer group's generation moved on since the batch was read (sendOffsets refused).
  KafkaErrorCodes.ERR_ILLEGAL_GENERATION,
  KafkaErrorCodes.ERR_UNKNOWN_MEMBER_ID,
  KafkaErrorCodes.ERR_FENCED_INSTANCE_ID,
]);

const REJOIN_CODES = new Set<number>([
  KafkaErrorCodes.ERR_UNKNOWN_MEMBER_ID,
  KafkaErrorCodes.ERR_REBALANCE_IN_PROGRESS,
  KafkaErrorCodes.ERR_ILLEGAL_GENERATION,
  KafkaErrorCodes.ERR_NOT_COORDINATOR,
  KafkaErrorCodes.ERR__STATE,
]);

/** The librdkafka error code of a client error, looking through causes and aggregate errors. */
export function kafkaErrorCodes(error: unknown): number[] {
  const codes: number[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || depth > 5) return;
    const { code, cause, errors } = e as { code?: unknown; cause?: unknown; errors?: unknown[] };
    if (typeof code === 'number') codes.push(code);
    visit(cause, depth + 1);
    for (const inner of errors ?? []) visit(inner, depth + 1);
  };
  visit(error, 0);
  return codes;
}

/** This writer was fenced (by transactional id or by group generation): drop the work, let the new owner redo it. */
export function isFenced(error: unknown): boolean {
  return error instanceof FencedError || kafkaErrorCodes(error).some((code) => FENCED_CODES.has(code));
}

/** The coordinator says this member must rejoin the group: not a fault, the batch is read again after the rebalance. */
export function isRejoin(error: unknown): boolean {
  return kafkaErrorCodes(error).some((code) => REJOIN_CODES.has(code));
}
