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

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE']);
const TRANSIENT_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const TRANSIENT_REASONS = new Set(['backendError', 'internalError', 'rateLimitExceeded', 'jobRateLimitExceeded', 'quotaExceeded', 'timeout', 'jobBackendError', 'jobInternalError']);
const TRANSIENT_MESSAGES = [/could not serialize access/i, /socket hang up/i, /network timeout/i, /request timed? ?out/i, /ECONNREFUSED|ECONNRESET|ETIMEDOUT/];

export function gcpErrorInfo(error: unknown): GcpErrorInfo {
  const e = (error ?? {}) as { code?: unknown; status?: unknown; errors?: { reason?: string; message?: string }[]; message?: string; cause?: unknown; response?: { status?: number } };
  const status = typeof e.code === 'number' ? e.code : typeof e.status === 'number' ? e.status : (e.response?.status ?? null);
  let errno: string | null = typeof e.code === 'string' ? e.code : null;
  const cause = e.cause as { code?: unknown } | undefined;
  if (!errno && cause && typeof cause.code === 'string') errno = cause.code;
  const reason = e.errors?.[0]?.reason ?? null;
  return { status, reason, errno, message: String(e.message ?? error) };
}

/** Worth retrying: network failures, 408/429/5xx, BigQuery backend and rate-limit reasons, concurrent-DML conflicts. */
export function isTransientGcpError(error: unknown): boolean {
  const info = gcpErrorInfo(error);
  if (info.errno && NETWORK_CODES.has(info.errno)) return true;
  if (info.status !== null && TRANSIENT_STATUS.has(info.status)) return true;
  if (info.reason && TRANSIENT_REASONS.has(info.reason)) return true;
  return TRANSIENT_MESSAGES.some((pattern) => pattern.test(info.message));
}

export function isAlreadyExists(error: unknown): boolean {
  const info = gcpErrorInfo(error);
  return info.status === 409 || info.reason === 'duplicate';
}

export function isNotFound(error: unknown): boolean {
  const info = gcpErrorInfo(error);
  return info.status === 404 || info.reason === 'notFound';
}
