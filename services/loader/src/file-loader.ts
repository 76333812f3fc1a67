import { fileChecksums, retry, type Logger } from '@cdc/core';
import { gcpErrorInfo, isTransientGcpError, type WarehouseNames } from '@cdc/core/gcp';
import type { Producer } from 'kafkajs';
import type { LoadableFile } from './transform/loadable-file.js';
import { loadJobId } from './transform/job-id.js';
import { quarantineMessage, type QuarantinedFile } from './transform/dead-letter.js';
import { buildMergeCurrent } from './sink/sql.js';
import type { BigQueryLoader, LoadSource } from './sink/bigquery-load.js';
import type { GcsStage } from './sink/gcs-stage.js';
import type { LocalFiles } from './sink/local-files.js';
import { PermanentFileError, RetryableError, type QuarantineReason } from './sink/errors.js';
import type { LoaderMetrics } from './metrics.js';
import type { TypedViews } from './views/typed-views.js';

export interface FileLoaderSettings {
  names: WarehouseNames;
  filesTopic: string;
  retentionHours: number;
  retry: { attempts: number; baseMs: number; maxMs: number };
  /** test fault injection: SIGKILL after the N-th upload / load / marking */
  crashAfter: { upload: number; load: number; mark: number };
}

export interface FileLoaderDeps {
  local: LocalFiles;
  /** null: no usable bucket, files are loaded from the local disk */
  stage: GcsStage | null;
  bigquery: BigQueryLoader;
  /** null: typed views switched off */
  views: TypedViews | null;
  deadLetters: Producer;
  metrics: LoaderMetrics;
  logger: Logger;
  settings: FileLoaderSettings;
  isStopping(): boolean;
}

export type FileOutcome = 'loaded' | 'already-loaded' | 'quarantined';

/** Where the file came from, for the dead-letter record. */
export interface FileOrigin {
  key: string | null;
  event: Buffer | null;
  source: { topic: string; partition: number; offset: string } | null;
}

const isRetryable = (error: unknown) => error instanceof RetryableError || (!(error instanceof PermanentFileError) && isTransientGcpError(error));

/**
 * One file, start to end: verify it, stage it, load it (job id derived from the file), MERGE it into the current
 * table, mark it loaded. Transient errors are retried with backoff; when they persist the error is thrown (the file
 * is tried again later, from the start, which is safe). A file at fault is quarantined and reported: never skipped
 * silently. The caller commits the file's offset only after this resolves.
 */
export class FileLoader {
  private uploads = 0;
  private loads = 0;
  private marks = 0;

  constructor(private readonly deps: FileLoaderDeps) {}

  private step<T>(name: string, file: LoadableFile, task: () => Promise<T>): Promise<T> {
    const { settings, metrics, logger } = this.deps;
    return retry(task, {
      isTransient: isRetryable,
      maxAttempts: settings.retry.attempts,
      baseDelayMs: settings.retry.baseMs,
      maxDelayMs: settings.retry.maxMs,
      shouldStop: () => this.deps.isStopping(),
      onRetry: ({ attempt, delayMs, error }) => {
        metrics.retries.inc({ step: name });
        // The error summary only: client errors can carry request headers (an access token).
        logger.warn({ file: file.path, step: name, attempt, delayMs, error: gcpErrorInfo(error) }, `${name} failed with a transient error; retrying`);
      },
    });
  }

  private crashPoint(kind: 'upload' | 'load' | 'mark', count: number): void {
    if (count === this.deps.settings.crashAfter[kind]) {
      this.deps.logger.warn({ hook: `LOADER_TEST_CRASH_AFTER_${kind.toUpperCase()}` }, 'fault injection: SIGKILL now');
      process.kill(process.pid, 'SIGKILL');
    }
  }

  async load(file: LoadableFile, origin: FileOrigin): Promise<FileOutcome> {
    const { local, stage, bigquery, metrics, logger, settings } = this.deps;
    const log = logger.child({ file: file.path, fileId: file.fileId });
    const endTimer = metrics.loadSeconds.startTimer({ topic: file.topic });
    try {
      const where = await local.locate(file.path);
      if (where === 'loaded') {
        metrics.alreadyLoaded.inc({ topic: file.topic, how: 'marked' });
        log.info('file already loaded (found under loaded/)');
        return 'already-loaded';
      }
      if (where === 'quarantine') {
        // Quarantined before, offset not committed: report again (at-least-once dead letters) and move on.
        const note = await local.quarantineNote(file.path);
        await this.report(file, origin, (note?.reason as QuarantineReason | undefined) ?? 'load_failed', note?.error ?? 'quarantined earlier', local.absolute(file.path, 'quarantine'));
        log.warn('file was quarantined earlier; reported again');
        return 'quarantined';
      }
      const absolute = local.absolute(file.path);
      if (where === 'missing') {
        if (file.md5) {
          const jobId = await this.step('job lookup', file, () => bigquery.findLoaded(this.jobId(file, file.md5!)));
          if (jobId) {
            // Loaded, but maybe not merged (the MERGE is idempotent: run it again).
            await this.step('merge', file, () => bigquery.run(buildMergeCurrent(settings.names, file)));
            metrics.alreadyLoaded.inc({ topic: file.topic, how: 'job' });
            log.info({ jobId }, 'local file gone but a load job of it succeeded: already loaded');
            return 'already-loaded';
          }
        }
        throw new PermanentFileError('missing_file', `${absolute} does not exist (nor under loaded/ or quarantine/)`);
      }

      // The file on disk must be the one announced.
      const checksums = await fileChecksums(absolute);
      if ((file.md5 && checksums.md5 !== file.md5) || (file.crc32c && checksums.crc32c !== file.crc32c)) {
        throw new PermanentFileError('checksum_mismatch', `${file.path}: md5 ${checksums.md5} crc32c ${checksums.crc32c} on disk, announced md5 ${file.md5} crc32c ${file.crc32c}`);
      }
      const baseId = this.jobId(file, checksums.md5);

      let source: LoadSource;
      if (stage) {
        const staged = { path: file.path, md5: checksums.md5, crc32c: checksums.crc32c, bytes: checksums.bytes, fileId: file.fileId };
        const result = await this.step('upload', file, () => stage.upload(absolute, staged));
        log.debug({ object: stage.uri(file.path), result }, 'staged');
        this.crashPoint('upload', ++this.uploads);
        source = { kind: 'gcs', object: stage.object(file.path) };
      } else {
        source = { kind: 'local', path: absolute };
      }

      const outcome = await this.step('load', file, () => bigquery.load(source, baseId));
      this.crashPoint('load', ++this.loads);
      const merged = await this.step('merge', file, () => bigquery.run(buildMergeCurrent(settings.names, file)));
      // Before the marking: after a crash the file comes again, still on disk, and the views catch up.
      if (this.deps.views) await this.step('typed views', file, () => this.deps.views!.update([absolute]));
      await local.markLoaded(file.path, settings.retentionHours);
      this.crashPoint('mark', ++this.marks);

      const rows = file.rows ?? outcome.outputRows ?? 0;
      if (outcome.status === 'loaded') {
        metrics.filesLoaded.inc({ topic: file.topic });
        metrics.rowsLoaded.inc({ topic: file.topic }, rows);
      } else {
        metrics.alreadyLoaded.inc({ topic: file.topic, how: 'job' });
      }
      metrics.noteLoaded(file.topic, file.maxClusterTime);
      log.info(
        { jobId: outcome.jobId, rows, currentRowsChanged: merged, via: stage ? 'gcs' : 'local', status: outcome.status },
        outcome.status === 'loaded' ? 'file loaded' : 'file already loaded by an earlier job; current state merged again',
      );
      return outcome.status;
    } catch (error) {
      if (!(error instanceof PermanentFileError)) throw error;
      const moved = await local.quarantine(file.path, {
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
      log.error({ reason: error.reason, error: error.message, quarantinedAs: moved }, 'file quarantined');
      return 'quarantined';
    } finally {
      endTimer();
    }
  }

  private jobId(file: LoadableFile, md5: string): string {
    const { names } = this.deps.settings;
    return loadJobId({ dataset: names.dataset, table: names.changesTable, topic: file.topic, partition: file.partition, firstOffset: file.firstOffset, lastOffset: file.lastOffset, md5 });
  }

  /** A file-ready event that cannot be read: reported on the dead-letter topic (there is no file to move). */
  async rejectEvent(error: string, origin: FileOrigin): Promise<void> {
    await this.sendDeadLetter({ reason: 'invalid_event', error, filesTopic: this.deps.settings.filesTopic, fileId: null, path: null, quarantinedPath: null, ...origin });
    this.deps.metrics.quarantined.inc({ topic: origin.source?.topic ?? this.deps.settings.filesTopic, reason: 'invalid_event' });
    this.deps.logger.error({ error, source: origin.source }, 'file-ready event rejected');
  }

  private async report(file: LoadableFile, origin: FileOrigin, reason: QuarantineReason, error: string, quarantinedPath: string | null): Promise<void> {
    await this.sendDeadLetter({ reason, error, filesTopic: this.deps.settings.filesTopic, fileId: file.fileId, path: file.path, quarantinedPath, ...origin });
    this.deps.metrics.quarantined.inc({ topic: file.topic, reason });
  }

  private async sendDeadLetter(file: QuarantinedFile): Promise<void> {
    const { topic, message } = quarantineMessage(file, new Date());
    await retry(() => this.deps.deadLetters.send({ topic, acks: -1, messages: [message] }), {
      isTransient: () => true,
      maxAttempts: this.deps.settings.retry.attempts,
      baseDelayMs: this.deps.settings.retry.baseMs,
      maxDelayMs: this.deps.settings.retry.maxMs,
      shouldStop: () => this.deps.isStopping(),
    });
  }
}
