import { FencedError, ServiceError } from '../errors/errors.js';
import confluent from '@confluentinc/kafka-javascript';

export const KafkaErrorCodes = confluent.KafkaJS.ErrorCodes;

// The one classification of the Kafka client's errors: by librdkafka's error codes (the client's `code`), never by
// the wording of a message, except for the client's log lines, which carry no code (kafkaLogAccessProblem).

/** The librdkafka error codes of a client error, looking through causes and aggregate errors. */
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

/** This writer was fenced (by transactional id or by group generation): drop the work, let the new owner redo it. */
export function isFenced(error: unknown): boolean {
  return error instanceof FencedError || kafkaErrorCodes(error).some((code) => FENCED_CODES.has(code));
}

/** The coordinator says this member must rejoin the group: not a fault, the batch is read again after the rebalance. */
export function isRejoin(error: unknown): boolean {
  return kafkaErrorCodes(error).some((code) => REJOIN_CODES.has(code));
}

/**
 * Kafka refused a record for its size (MESSAGE_TOO_LARGE, broker error 10; librdkafka's MSG_SIZE_TOO_LARGE has the
 * same code). A transaction's commit can fail with only the text of the delivery failure it aborted on, without
 * its code: the text is then the one evidence left, so it is read here, and nowhere else.
 */
export function isMessageTooLarge(error: unknown): boolean {
  if (kafkaErrorCodes(error).includes(KafkaErrorCodes.ERR_MSG_SIZE_TOO_LARGE)) return true;
  return /message size too large|MSG_SIZE_TOO_LARGE/i.test(String((error as { message?: unknown } | null)?.message ?? ''));
}

const CREDENTIALS_REFUSED = 'Kafka refused the credentials: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD (or their _FILE variants) and KAFKA_SASL_MECHANISM';
const TLS_FAILED = 'the TLS handshake with Kafka failed: check KAFKA_SECURITY_PROTOCOL, KAFKA_SSL_CA_LOCATION and the client certificate';
const NOT_AUTHORIZED = 'Kafka authenticated the client but its principal has no ACL for this (the principal is KAFKA_SASL_USERNAME)';
const NO_TOKEN = 'no OAUTHBEARER token could be made: check the Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or the attached service account)';

function accessProblemOfCode(code: number): string | null {
  switch (code) {
    case KafkaErrorCodes.ERR__AUTHENTICATION: // librdkafka's SASL failure
    case KafkaErrorCodes.ERR_SASL_AUTHENTICATION_FAILED:
      return CREDENTIALS_REFUSED;
    case KafkaErrorCodes.ERR__SSL:
      return TLS_FAILED;
    case KafkaErrorCodes.ERR_TOPIC_AUTHORIZATION_FAILED:
    case KafkaErrorCodes.ERR_GROUP_AUTHORIZATION_FAILED:
    case KafkaErrorCodes.ERR_CLUSTER_AUTHORIZATION_FAILED:
    case KafkaErrorCodes.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return NOT_AUTHORIZED;
    default:
      return null;
  }
}

/**
 * What to check when Kafka refuses the connection for its security (by the client's error code, or that of any
 * error in an aggregate: createTopics reports one per topic), or null.
 */
export function kafkaAccessProblem(error: unknown): string | null {
  return kafkaErrorCodes(error).map(accessProblemOfCode).find((problem) => problem !== null) ?? null;
}

/**
 * The same from one of the client's log lines: a refused login or TLS handshake is reported only there (the
 * requests waiting on the connection then fail as plain transport errors), and so are a consumer's refused group,
 * which the client retries for ever, and a failed OAUTHBEARER token. A log line is text without a code, so here
 * the wording is all there is to go by.
 */
export function kafkaLogAccessProblem(message: string): string | null {
  if (/SASL authentication error|SASL .*authentication failed/i.test(message)) return CREDENTIALS_REFUSED;
  if (/SSL handshake failed|certificate verify failed/i.test(message)) return TLS_FAILED;
  if (/authorization failed/i.test(message)) return NOT_AUTHORIZED;
  // the provider's rejection, as the client logs it
  if (/oauthbearer_token_refresh_cb/.test(message)) return NO_TOKEN;
  return null;
}

/** Kafka refused the service's credentials, certificate or ACLs: waiting does not help, the operator has to act. */
export class KafkaAccessError extends ServiceError {
  constructor(problem: string, detail: string, cause?: unknown) {
    super(`${problem} (${detail})`, { reason: 'kafka-access-refused', cause });
  }
}

/** The error as a KafkaAccessError naming what to check when it is an access refusal; otherwise as it is. */
export function explainAccessRefusal(error: unknown, detail = (error as Error)?.message): unknown {
  const problem = kafkaAccessProblem(error);
  return problem ? new KafkaAccessError(problem, String(detail), error) : error;
}
