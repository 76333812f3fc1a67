import { deadLetterTopicOf, type Message } from '@cdc/core';

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

/** The dead-letter record of a quarantined file, on `<files topic>.dlq`; the reason also as a header. */
export function quarantineMessage(file: QuarantinedFile, failedAt: Date): { topic: string; message: Message } {
  let event: unknown = null;
  if (file.event) {
    try {
      event = JSON.parse(file.event.toString('utf8'));
    } catch {
      event = { value_base64: file.event.toString('base64') };
    }
  }
  return {
    topic: deadLetterTopicOf(file.filesTopic),
    message: {
      key: file.key,
      value: JSON.stringify({
        reason: file.reason,
        error: file.error,
        file_id: file.fileId,
        path: file.path,
        quarantined_path: file.quarantinedPath,
        event,
        source_topic: file.source?.topic ?? null,
        source_partition: file.source?.partition ?? null,
        source_offset: file.source?.offset ?? null,
        failed_at: failedAt.toISOString(),
        stage: 'loader',
      }),
      headers: { reason: file.reason, ...(file.fileId ? { file_id: file.fileId } : {}) },
    },
  };
}
