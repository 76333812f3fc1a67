/** Why a file is quarantined (dead-letter `reason`). */
export type QuarantineReason = 'invalid_event' | 'missing_file' | 'checksum_mismatch' | 'load_failed' | 'missing_object';

/** The file itself is at fault: retrying cannot help; it is quarantined and the loader moves on. */
export class PermanentFileError extends Error {
  constructor(
    readonly reason: QuarantineReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PermanentFileError';
  }
}

/** Worth retrying, but not a transport error the Google client classifies (e.g. the table is missing for now). */
export class RetryableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RetryableError';
  }
}
