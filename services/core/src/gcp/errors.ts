import { ServiceError } from '../errors/errors.js';

/** The parts of a Google API error (or a network error) that decide what to do with it. */
export interface GcpErrorInfo {
  /** HTTP status when there was a response */
  status: number | null;
  /** BigQuery/Storage reason of the first error (`invalid`, `notFound`, `backendError`, `duplicate`, ...) */
  reason: string | null;
  /** Node.js error code for network failures (`ECONNREFUSED`, ...) */
  errno: string | null;
  message: string;
}

/**
 * Who is at fault, which decides what the services do with a Google Cloud error:
 * - `transient`: goes away by itself (network, 408/429/5xx, backend trouble, quota and rate limits);
 * - `downstream`: the project or warehouse refuses, not the data: permission, billing, a KMS key refused, a
 *   dataset or table missing (401/403/404). It lasts until an operator acts, so it is retried for as long;
 * - `rejected`: the request itself is refused (invalid input or statement, a duplicate): the same request cannot
 *   succeed later. For a load job this is the file's fault.
 */
export type GcpFault = 'transient' | 'downstream' | 'rejected';

/** A Google Cloud error classified once: `reason` is the API's reason (or the network error code, or `http-<status>`). */
export class GcpError extends ServiceError {
  readonly fault: GcpFault;
  readonly status: number | null;

  constructor(info: GcpErrorInfo, fault: GcpFault, cause?: unknown) {
    super(info.message, { reason: info.reason ?? info.errno ?? (info.status !== null ? `http-${info.status}` : 'unknown'), retriable: fault !== 'rejected', cause });
    this.fault = fault;
    this.status = info.status;
  }
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE']);
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
// BigQuery's documented error reasons (cloud.google.com/bigquery/docs/error-messages), by who is at fault.
const TRANSIENT_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'jobRateLimitExceeded', 'quotaExceeded', 'timeout', 'jobBackendError', 'jobInternalError', 'tableUnavailable']);
// Cloud KMS refusals of a table's key come as accessDenied; Cloud Storage says forbidden / authError.
const DOWNSTREAM_REASONS = new Set(['accessDenied', 'billingNotEnabled', 'blocked', 'forbidden', 'authError', 'unauthorized', 'accountDisabled', 'notFound']);
const DOWNSTREAM_STATUS = new Set([401, 403, 404]);

export function gcpErrorInfo(error: unknown): GcpErrorInfo {
  if (error instanceof GcpError) return { status: error.status, reason: error.reason, errno: null, message: error.message };
  const e = (error ?? {}) as { code?: unknown; status?: unknown; errors?: { reason?: string; message?: string }[]; reason?: unknown; message?: string; cause?: unknown; response?: { status?: number } };
  const status = typeof e.code === 'number' ? e.code : typeof e.status === 'number' ? e.status : (e.response?.status ?? null);
  let errno: string | null = typeof e.code === 'string' ? e.code : null;
  const cause = e.cause as { code?: unknown } | undefined;
  if (!errno && cause && typeof cause.code === 'string') errno = cause.code;
  // An API error lists its errors; a job's errorResult is one such error itself.
  const reason = e.errors?.[0]?.reason ?? (typeof e.reason === 'string' ? e.reason : null);
  return { status, reason, errno, message: String(e.message ?? error) };
}

/**
 * The one classification of Google Cloud errors, by HTTP status, API reason and network error code (never by the
 * wording of a message). A known reason decides first (BigQuery answers quotaExceeded with 403), then the status,
 * then a network code; an error with none of them is not understood and held as `downstream` (retried, never
 * taken for bad data).
 */
export function classifyGcpError(error: unknown): GcpError {
  if (error instanceof GcpError) return error;
  const info = gcpErrorInfo(error);
  // the services' own errors already say whether trying again helps
  if (error instanceof ServiceError) return new GcpError(info, error.retriable ? 'transient' : 'rejected', error);
  const fault = ((): GcpFault => {
    if (info.reason && TRANSIENT_REASONS.has(info.reason)) return 'transient';
    if (info.reason && DOWNSTREAM_REASONS.has(info.reason)) return 'downstream';
    if (info.status !== null && TRANSIENT_STATUS.has(info.status)) return 'transient';
    if (info.status !== null && DOWNSTREAM_STATUS.has(info.status)) return 'downstream';
    if (info.errno && NETWORK_CODES.has(info.errno)) return 'transient';
    if (info.status !== null || info.reason) return 'rejected';
    return 'downstream';
  })();
  return new GcpError(info, fault, error);
}

/** Goes away by itself (network, 5xx, quota and rate limits): worth a quick retry even at start-up. */
export function isTransientGcpError(error: unknown): boolean {
  return classifyGcpError(error).fault === 'transient';
}

/** Worth trying again: transient, or a downstream fault an operator may fix meanwhile. */
export function isRetriableGcpError(error: unknown): boolean {
  return classifyGcpError(error).retriable;
}

export function isAlreadyExists(error: unknown): boolean {
  const info = gcpErrorInfo(error);
  return info.status === 409 || info.reason === 'duplicate';
}

export function isNotFound(error: unknown): boolean {
  const info = gcpErrorInfo(error);
  return info.status === 404 || info.reason === 'notFound';
}

/** A precondition (`ifGenerationMatch`) did not hold: the object is not the one expected. */
export function isPreconditionFailed(error: unknown): boolean {
  return gcpErrorInfo(error).status === 412;
}

/**
 * No credentials to be found (neither GOOGLE_APPLICATION_CREDENTIALS nor Application Default Credentials):
 * google-auth-library throws a plain Error without code or status for it, so its wording is the only thing to go
 * by; kept here with the rest of the classification.
 */
export function isMissingCredentials(error: unknown): boolean {
  return /could not load the default credentials/i.test(gcpErrorInfo(error).message);
}
