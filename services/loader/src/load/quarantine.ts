import { freshRecords, retry, type Logger, type Producer } from '@cdc/core';
import { quarantineMessage, type QuarantinedFile } from '../transform/dead-letter.js';
import { PermanentFileError, type QuarantineReason } from '../sink/errors.js';
import type { FileStore } from '../sink/ports.js';
import type { LoadableFile } from '../transform/loadable-file.js';
import type { LoaderMetrics } from '../metrics.js';
import type { RetrySettings } from './step-retry.js';
import type { FileOrigin, GroupEntry } from './entries.js';

export interface QuarantineDeps {
  local: Pick<FileStore, 'address' | 'quarantine' | 'quarantineNote'>;
  /** at-least-once is enough for reports of quarantined files (a retried send may repeat one) */
  deadLetters: Pick<Producer, 'send'>;
  metrics: LoaderMetrics;
  logger: Logger;
  filesTopic: string;
  retry: RetrySettings;
  /** the service's stop: retries end */
  signal: AbortSignal;
}

/**
 * Files at fault (invalid Parquet, schema mismatch, missing file or object, wrong checksum) and file-ready events
 * that cannot be read: moved to quarantine/ with a reason note where there is a file, always reported on the
 * dead-letter topic, never skipped silently.
 */
export class Quarantine {
  constructor(private readonly deps: QuarantineDeps) {}

  /** Runs `task`; a PermanentFileError quarantines the file instead of failing. */
  async onFault<T>(entry: GroupEntry, task: () => Promise<T>): Promise<T | 'quarantined'> {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof PermanentFileError)) throw error;
      return this.quarantine(entry, error);
    }
  }

  /** The file is at fault: moved to quarantine/ with a reason note, reported on the dead-letter topic. */
  async quarantine({ file, origin }: GroupEntry, error: PermanentFileError): Promise<'quarantined'> {
    const moved = await this.deps.local.quarantine(file.path, {
      reason: error.reason,
      error: error.message,
      file_id: file.fileId,
      quarantined_at: new Date().toISOString(),
      topic: file.topic,
      partition: file.partition,
      first_offset: file.firstOffset,
      last_offset: file.lastOffset,
    });
    await this.report(file, origin, error.reason, error.message, moved);
    this.deps.logger.error({ file: file.path, reason: error.reason, error: error.message, quarantinedAs: moved }, 'file quarantined');
    return 'quarantined';
  }

  /** Quarantined before, offset not committed: reported again (at-least-once dead letters), with the reason noted then. */
  async reportAgain({ file, origin }: GroupEntry): Promise<'quarantined'> {
    const { local, logger } = this.deps;
    const note = await local.quarantineNote(file.path);
    await this.report(file, origin, (note?.reason as QuarantineReason | undefined) ?? 'load_failed', note?.error ?? 'quarantined earlier', local.address(file.path, 'quarantine'));
    logger.warn({ file: file.path }, 'file was quarantined earlier; reported again');
    return 'quarantined';
  }

  /** A file-ready event that cannot be read: reported on the dead-letter topic (there is no file to move). */
  async rejectEvent(error: string, origin: FileOrigin): Promise<void> {
    const { filesTopic, metrics, logger } = this.deps;
    await this.sendDeadLetter({ reason: 'invalid_event', error, filesTopic, fileId: null, path: null, quarantinedPath: null, ...origin });
    metrics.quarantined.inc({ topic: origin.source?.topic ?? filesTopic, reason: 'invalid_event' });
    logger.error({ error, source: origin.source }, 'file-ready event rejected');
  }

  private async report(file: LoadableFile, origin: FileOrigin, reason: QuarantineReason, error: string, quarantinedPath: string | null): Promise<void> {
    await this.sendDeadLetter({ reason, error, filesTopic: this.deps.filesTopic, fileId: file.fileId, path: file.path, quarantinedPath, ...origin });
    this.deps.metrics.quarantined.inc({ topic: file.topic, reason });
  }

  private async sendDeadLetter(file: QuarantinedFile): Promise<void> {
    const { deadLetters, retry: settings } = this.deps;
    const { topic, message } = quarantineMessage(file, new Date());
    await retry(() => deadLetters.send({ topic, messages: freshRecords([message]) }), {
      isTransient: () => true,
      maxAttempts: settings.attempts,
      baseDelayMs: settings.baseMs,
      maxDelayMs: settings.maxMs,
      signal: this.deps.signal,
    });
  }
}
