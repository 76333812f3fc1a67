import { fileChecksums, freshRecords, retry, type Logger, type Producer } from '@cdc/core';
import { gcpErrorInfo, isTransientGcpError, type WarehouseNames } from '@cdc/core/gcp';
import type { LoadableFile } from './transform/loadable-file.js';
import { groupAttempt, type GroupAttempt } from './transform/job-id.js';
import { quarantineMessage, type QuarantinedFile } from './transform/dead-letter.js';
import { buildInsertNew, buildMergeGroup, buildRangeCount, type TimeBounds } from './sink/sql.js';
import type { BigQueryLoader, JobCounter, LoadSource } from './sink/bigquery-load.js';
import type { GcsStage } from './sink/gcs-stage.js';
import type { LocalFiles } from './sink/local-files.js';
import { PermanentFileError, type QuarantineReason } from './sink/errors.js';
import type { LoaderMetrics } from './metrics.js';
import type { LoadHealth } from './load-health.js';
import type { TypedViews } from './views/typed-views.js';
import type { SnapshotCompletions } from './snapshot-completions.js';

export type CrashPoint = 'upload' | 'load' | 'insert' | 'merge' | 'snapshot_deletes' | 'mark';

export interface FileLoaderSettings {
  names: WarehouseNames;
  filesTopic: string;
  retentionHours: number;
  retry: { attempts: number; baseMs: number; maxMs: number };
  /** staging tables left by a crash are dropped by BigQuery after this long */
  stagingExpiryMs: number;
  /**
   * test fault injection: SIGKILL after the N-th file uploaded / group staged / inserted / merged / snapshot's delete
   * rows inserted (not merged) / file marked
   */
  crashAfter: Record<CrashPoint, number>;
}

export interface FileLoaderDeps {
  local: LocalFiles;
  /** null: no usable bucket, files are loaded from the local disk */
  stage: GcsStage | null;
  bigquery: BigQueryLoader;
  budget: JobCounter;
  /** null: typed views switched off */
  views: TypedViews | null;
  /** deletes of snapshots that replaced a lost history */
  completions: SnapshotCompletions;
  deadLetters: Producer;
  metrics: LoaderMetrics;
  /** told of every failed attempt and every group done: readiness and the failing metrics */
  health: LoadHealth;
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

export interface GroupEntry {
  file: LoadableFile;
  origin: FileOrigin;
}

/** A file verified on disk, ready to be loaded. */
interface ReadyFile extends GroupEntry {
  absolute: string;
  md5: string;
  crc32c: string;
  bytes: number;
}

/** Uploads (and deletes) of one group's objects in flight at once: each is a few round trips, so a group of hundreds of files is not a queue of them. */
const UPLOAD_CONCURRENCY = 8;

// A step retries at once only what goes away by itself (network, 5xx, quota). A downstream fault (permission,
// billing, a missing table) lasts until an operator acts: it fails the group at once, which is then held and
// tried again by the groups, paced by the load-job budget, so that hours of refusals do not spend the day's jobs.

/** Cluster-time bounds of the group when every file announced them. */
function boundsOf(files: readonly LoadableFile[]): TimeBounds | null {
  if (files.some((f) => !f.minClusterTime || !f.maxClusterTime)) return null;
  const min = files.map((f) => f.minClusterTime!).reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
  const max = files.map((f) => f.maxClusterTime!).reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b));
  return { minClusterTime: min, maxClusterTime: max };
}

/**
 * A group of files, start to end, as named steps: verify each file, upload it, load the group into a fresh staging
 * table (one load job), insert into the changes table the records not already there, MERGE the group into the
 * current table, keep its snapshot-complete markers and apply the deletes of snapshots now fully loaded, mark the
 * files loaded, drop the staging table, delete the staged objects. Every step is idempotent or skips what is done,
 * so a crash anywhere is repaired by doing the group again, whatever files it then holds. Transient errors are
 * retried with backoff; when they persist, and at once for any other error that is not the file's fault
 * (permission, billing, a missing table), the error is thrown: the groups hold the group and try it again. Only
 * a file at fault (invalid Parquet, schema mismatch, missing file or object, wrong checksum) is quarantined and
 * reported, never skipped silently. The caller commits the files' offsets only after this resolves.
 */
export class FileLoader {
  private readonly counts: Record<CrashPoint, number> = { upload: 0, load: 0, insert: 0, merge: 0, snapshot_deletes: 0, mark: 0 };

  constructor(private readonly deps: FileLoaderDeps) {}

  /** Loads the group; one outcome per entry, in order. A file announced twice in the group is loaded once. */
  async loadGroup(entries: readonly GroupEntry[]): Promise<FileOutcome[]> {
    const { metrics, health } = this.deps;
    const endTimer = metrics.groupSeconds.startTimer();
    try {
      const outcomes = await this.loadEntries(entries);
      health.loaded();
      return outcomes;
    } catch (error) {
      if (!this.deps.isStopping()) health.failed(error);
      throw error;
    } finally {
      endTimer();
    }
  }

  private async loadEntries(entries: readonly GroupEntry[]): Promise<FileOutcome[]> {
    const { metrics } = this.deps;
    const first = new Map<string, GroupEntry>();
    for (const entry of entries) if (!first.has(entry.file.path)) first.set(entry.file.path, entry);
    const outcomes = new Map<string, FileOutcome>();
    const ready: ReadyFile[] = [];
    for (const entry of first.values()) {
      const checked = await this.quarantineOnFault(entry, () => this.verify(entry));
      if (typeof checked === 'string') outcomes.set(entry.file.path, checked);
      else ready.push(checked);
    }
    for (const [path, outcome] of await this.loadReady(ready)) outcomes.set(path, outcome);
    return entries.map((entry) => {
      const outcome = outcomes.get(entry.file.path)!;
      if (first.get(entry.file.path) === entry || outcome !== 'loaded') return outcome;
      metrics.alreadyLoaded.inc({ topic: entry.file.topic, how: 'duplicate' });
      return 'already-loaded';
    });
  }

  /** The group's verified files in one go; when the load blames the files, each alone (to quarantine only the bad one). */
  private async loadReady(ready: ReadyFile[]): Promise<Map<string, FileOutcome>> {
    const outcomes = new Map<string, FileOutcome>();
    if (ready.length === 0) return outcomes;
    try {
      await this.loadVerified(ready);
      for (const file of ready) outcomes.set(file.file.path, 'loaded');
    } catch (error) {
      if (!(error instanceof PermanentFileError)) throw error;
      if (ready.length === 1) {
        outcomes.set(ready[0]!.file.path, await this.quarantine(ready[0]!, error));
        return outcomes;
      }
      this.deps.logger.warn({ files: ready.length, error: error.message }, 'the group load failed on its files; loading them one by one to find the bad one');
      for (const file of ready) {
        const result = await this.quarantineOnFault(file, async () => {
          await this.loadVerified([file]);
          return 'loaded' as const;
        });
        outcomes.set(file.file.path, result);
      }
    }
    return outcomes;
  }

  private async loadVerified(files: ReadyFile[]): Promise<void> {
    const { settings, metrics, logger } = this.deps;
    // Milliseconds per step, logged with the group (where the time goes).
    const ms: Record<string, number> = {};
    const timed = async <T>(name: string, task: () => Promise<T>): Promise<T> => {
      const start = Date.now();
      try {
        return await task();
      } finally {
        ms[name] = Date.now() - start;
      }
    };
    const sources = await timed('upload', () => this.upload(files));
    const attempt = await timed('load', () => this.step('load', files, () => this.loadStaging(files, sources)));
    const log = logger.child({ group: attempt.key, staging: attempt.stagingTable, files: files.length });
    this.crashPoint('load');
    const bounds = boundsOf(files.map((f) => f.file));
    const inserted = await timed('insert', () => this.step('insert', files, () => this.deps.bigquery.run(buildInsertNew(settings.names, attempt.stagingTable, bounds))));
    this.crashPoint('insert');
    const merged = await timed('merge', () => this.step('merge', files, () => this.deps.bigquery.run(buildMergeGroup(settings.names, attempt.stagingTable, bounds))));
    this.crashPoint('merge');
    // Before the marking: a marker is kept before its file's offset can be committed.
    if (files.some((f) => f.file.snapshotMarkers !== 0)) {
      await timed('markers', () => this.step('snapshot markers', files, () => this.deps.completions.record(attempt.stagingTable)));
    }
    await timed('snapshot deletes', () => this.step('snapshot deletes', files, () => this.deps.completions.applyReady(() => this.crashPoint('snapshot_deletes'))));
    // Before the marking: after a crash the files come again, still on disk, and the views catch up.
    if (this.deps.views) await timed('views', () => this.step('typed views', files, () => this.deps.views!.update(files.map((f) => f.absolute))));
    await timed('mark', () => this.markLoaded(files));
    await timed('drop', () => this.dropStaging(attempt.stagingTable));
    await timed('unstage', () => this.unstage(files));

    const staged = files.reduce((n, f) => n + (f.file.rows ?? 0), 0);
    const now = Date.now();
    for (const { file } of files) {
      log.info({ file: file.path }, 'file loaded');
      metrics.filesLoaded.inc({ topic: file.topic });
      metrics.noteLoaded(file.topic, file.maxClusterTime);
      if (file.readyAt) metrics.readyToVisibleSeconds.observe(Math.max(0, (now - Date.parse(file.readyAt)) / 1000));
    }
    metrics.rowsLoaded.inc(inserted);
    if (staged > inserted) metrics.rowsAlreadyPresent.inc(staged - inserted);
    metrics.groupFiles.observe(files.length);
    log.info({ rows: inserted, alreadyPresent: Math.max(0, staged - inserted), currentRowsChanged: merged, via: this.deps.stage ? 'gcs' : 'local', ms }, 'group loaded');
  }

  /** The file on disk must be the one announced; a file already handled earlier is recognised. */
  private async verify({ file, origin }: GroupEntry): Promise<ReadyFile | FileOutcome> {
    const { local, metrics, logger } = this.deps;
    const where = await local.locate(file.path);
    if (where === 'loaded') {
      metrics.alreadyLoaded.inc({ topic: file.topic, how: 'marked' });
      logger.info({ file: file.path }, 'file already loaded (found under loaded/)');
      return 'already-loaded';
    }
    if (where === 'quarantine') {
      // Quarantined before, offset not committed: report again (at-least-once dead letters) and move on.
      const note = await local.quarantineNote(file.path);
      await this.report(file, origin, (note?.reason as QuarantineReason | undefined) ?? 'load_failed', note?.error ?? 'quarantined earlier', local.absolute(file.path, 'quarantine'));
      logger.warn({ file: file.path }, 'file was quarantined earlier; reported again');
      return 'quarantined';
    }
    const absolute = local.absolute(file.path);
    if (where === 'missing') {
      // Files leave the input directory only after both tables have their rows (retention 0 deletes them then).
      if (file.rows !== null) {
        const [row] = await this.step('presence check', [{ file }], () => this.deps.bigquery.rows(buildRangeCount(this.deps.settings.names, file)));
        if (Number(row?.present ?? 0) === file.rows) {
          metrics.alreadyLoaded.inc({ topic: file.topic, how: 'present' });
          logger.info({ file: file.path }, 'local file gone but its rows are in the changes table: already loaded');
          return 'already-loaded';
        }
      }
      throw new PermanentFileError('missing_file', `${absolute} does not exist (nor under loaded/ or quarantine/)`);
    }
    const checksums = await fileChecksums(absolute);
    if ((file.md5 && checksums.md5 !== file.md5) || (file.crc32c && checksums.crc32c !== file.crc32c)) {
      throw new PermanentFileError('checksum_mismatch', `${file.path}: md5 ${checksums.md5} crc32c ${checksums.crc32c} on disk, announced md5 ${file.md5} crc32c ${file.crc32c}`);
    }
    return { file, origin, absolute, ...checksums };
  }

  private async upload(files: ReadyFile[]): Promise<LoadSource[]> {
    const { stage, logger } = this.deps;
    if (!stage) return files.map((f) => ({ kind: 'local', path: f.absolute }));
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++]!;
        const staged = { path: f.file.path, md5: f.md5, crc32c: f.crc32c, bytes: f.bytes, fileId: f.file.fileId };
        const result = await this.step('upload', [f], () => stage.upload(f.absolute, staged));
        logger.debug({ object: stage.uri(f.file.path), result }, 'staged');
        this.crashPoint('upload');
      }
    };
    await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, files.length) }, worker));
    return files.map((f) => ({ kind: 'gcs', object: stage.object(f.file.path) }));
  }

  /** One attempt: a fresh staging table loaded with the group (dropped again when the attempt fails). */
  private async loadStaging(files: ReadyFile[], sources: LoadSource[]): Promise<GroupAttempt> {
    const { bigquery, budget, settings } = this.deps;
    const attempt = groupAttempt(
      settings.names.changesTable,
      files.map((f) => ({ topic: f.file.topic, partition: f.file.partition, firstOffset: f.file.firstOffset, lastOffset: f.file.lastOffset, md5: f.md5 })),
    );
    await bigquery.createStaging(attempt.stagingTable, settings.stagingExpiryMs);
    try {
      await bigquery.loadStaging(attempt.stagingTable, sources, attempt.jobId, budget);
    } catch (error) {
      await bigquery.dropTable(attempt.stagingTable).catch(() => undefined);
      throw error;
    }
    return attempt;
  }

  private async markLoaded(files: ReadyFile[]): Promise<void> {
    for (const { file } of files) {
      await this.deps.local.markLoaded(file.path, this.deps.settings.retentionHours);
      this.crashPoint('mark');
    }
  }

  /** Both tables have the rows: the staging table is no longer needed (if the drop fails, it expires). */
  private async dropStaging(table: string): Promise<void> {
    try {
      await this.deps.bigquery.dropTable(table);
    } catch (error) {
      this.deps.logger.warn({ staging: table, error: gcpErrorInfo(error) }, 'staging table not dropped; it expires by itself');
    }
  }

  /** Both tables have the rows: the staged objects go (no lasting second copy of the documents; if a delete fails, the bucket's lifecycle rule removes the object). */
  private async unstage(files: ReadyFile[]): Promise<void> {
    const { stage, logger } = this.deps;
    if (!stage) return;
    const failed: { object: string; error: ReturnType<typeof gcpErrorInfo> }[] = [];
    for (let i = 0; i < files.length; i += UPLOAD_CONCURRENCY) {
      const batch = files.slice(i, i + UPLOAD_CONCURRENCY);
      await Promise.all(batch.map((f) => stage.remove(f.file.path).catch((error: unknown) => failed.push({ object: stage.uri(f.file.path), error: gcpErrorInfo(error) }))));
    }
    if (failed.length > 0) logger.warn({ failed }, 'staged objects not deleted; the bucket lifecycle rule (GCS_STAGING_MAX_AGE_DAYS) removes them');
  }

  private step<T>(name: string, files: readonly { file: LoadableFile }[], task: () => Promise<T>): Promise<T> {
    const { settings, metrics, logger } = this.deps;
    return retry(task, {
      isTransient: isTransientGcpError,
      maxAttempts: settings.retry.attempts,
      baseDelayMs: settings.retry.baseMs,
      maxDelayMs: settings.retry.maxMs,
      shouldStop: () => this.deps.isStopping(),
      onRetry: ({ attempt, delayMs, error }) => {
        metrics.retries.inc({ step: name });
        this.deps.health.failed(error);
        // The error summary only: client errors can carry request headers (an access token).
        logger.warn({ files: files.map((f) => f.file.path), step: name, attempt, delayMs, error: gcpErrorInfo(error) }, `${name} failed with a transient error; retrying`);
      },
    });
  }

  private crashPoint(kind: CrashPoint): void {
    if (++this.counts[kind] === this.deps.settings.crashAfter[kind]) {
      this.deps.logger.warn({ hook: `LOADER_TEST_CRASH_AFTER_${kind.toUpperCase()}` }, 'fault injection: SIGKILL now');
      process.kill(process.pid, 'SIGKILL');
    }
  }

  /** Runs `task`; a PermanentFileError quarantines the file instead of failing. */
  private async quarantineOnFault<T>(entry: GroupEntry, task: () => Promise<T>): Promise<T | 'quarantined'> {
    try {
      return await task();
    } catch (error) {
      if (!(error instanceof PermanentFileError)) throw error;
      return this.quarantine(entry, error);
    }
  }

  /** The file is at fault: moved to quarantine/ with a reason note, reported on the dead-letter topic. */
  private async quarantine({ file, origin }: GroupEntry, error: PermanentFileError): Promise<'quarantined'> {
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
    await retry(() => this.deps.deadLetters.send({ topic, messages: freshRecords([message]) }), {
      isTransient: () => true,
      maxAttempts: this.deps.settings.retry.attempts,
      baseDelayMs: this.deps.settings.retry.baseMs,
      maxDelayMs: this.deps.settings.retry.maxMs,
      shouldStop: () => this.deps.isStopping(),
    });
  }
}
