import { DEAD_LETTER_MAX_BYTES, deadLetterTopicOf, fitDeadLetter, type Message } from '@cdc/core';

export interface QuarantinedFile {
  reason: string;
  error: string;
  filesTopic: string;
  /** key of the file-ready event (`<topic>-<partition>`), or null in poll mode */
  key: string | null;
  fileId: string | null;
  path: string | null;
  /** where the file went (null: there was no file) */
  quarantinedPath: string | null;
  /** the original file-ready event, when the file came from one */
  event: Buffer | null;
  source: { topic: string; partition: number; offset: string } | null;
}

/**
 * The dead-letter record of a quarantined file, on `<files topic>.dlq`; the reason also as a header. The original
 * file-ready event travels base64 like the processor's dead letters, cut to fit the producer's limit (an event
 * near the limit would not fit whole beside the rest), with its size and sha256.
 */
export function quarantineMessage(file: QuarantinedFile, failedAt: Date, maxBytes = DEAD_LETTER_MAX_BYTES): { topic: string; message: Message } {
  return {
    topic: deadLetterTopicOf(file.filesTopic),
    message: fitDeadLetter(
      {
        key: file.key,
        fields: {
          reason: file.reason,
          error: file.error,
          file_id: file.fileId,
          path: file.path,
          quarantined_path: file.quarantinedPath,
          source_topic: file.source?.topic ?? null,
          source_partition: file.source?.partition ?? null,
          source_offset: file.source?.offset ?? null,
          failed_at: failedAt.toISOString(),
          stage: 'loader',
        },
        original: file.event,
        headers: { reason: file.reason, ...(file.fileId ? { file_id: file.fileId } : {}) },
      },
      maxBytes,
    ),
  };
}
