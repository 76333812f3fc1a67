import { ServiceError } from '@cdc/core';

/** Why a file is quarantined (dead-letter `reason`). */
export type QuarantineReason = 'invalid_event' | 'missing_file' | 'checksum_mismatch' | 'load_failed' | 'missing_object' | 'object_changed' | 'wrong_location';

/** The file itself is at fault: retrying cannot help; it is quarantined and the loader moves on. */
export class PermanentFileError extends ServiceError {
  declare readonly reason: QuarantineReason;

  constructor(reason: QuarantineReason, message: string, options?: { cause?: unknown }) {
    super(message, { reason, retriable: false, cause: options?.cause });
  }
}
