import { PermanentFileError } from '../sink/errors.js';
import { boundsOf, groupSteps, type GroupLoadDeps, type GroupState, type GroupStep } from './group-steps.js';
import { retryStep } from './step-retry.js';
import type { FileOrigin, FileOutcome, GroupEntry, ReadyFile } from './entries.js';

/**
 * A group of files, start to end: verify each file, then the group's steps (`groupSteps`: upload, load into a
 * fresh staging table, insert into the changes table the records not already there, MERGE into the current table,
 * snapshot markers and deletes, views, mark, drop the staging table, delete the staged objects). Transient errors
 * are retried with backoff; when they persist, and at once for any other error that is not the file's fault
 * (permission, billing, a missing table), the error is thrown: the groups hold the group and try it again. Only a
 * file at fault is quarantined (`Quarantine`). The caller commits the files' offsets only after this resolves.
 */
export class GroupLoad<O> {
  private readonly steps: readonly GroupStep<O>[] = groupSteps<O>();

  constructor(private readonly deps: GroupLoadDeps<O>) {}

  /** Loads the group; one outcome per entry, in order. A file announced twice in the group is loaded once. */
  async loadGroup(entries: readonly GroupEntry[]): Promise<FileOutcome[]> {
    const { metrics, health } = this.deps;
    const endTimer = metrics.groupSeconds.startTimer();
    try {
      const outcomes = await this.loadEntries(entries);
      health.loaded();
      return outcomes;
    } catch (error) {
      if (!this.deps.signal.aborted) health.failed(error);
      throw error;
    } finally {
      endTimer();
    }
  }

  /** A file-ready event that cannot be read: reported on the dead-letter topic. */
  rejectEvent(error: string, origin: FileOrigin): Promise<void> {
    return this.deps.quarantine.rejectEvent(error, origin);
  }

  private async loadEntries(entries: readonly GroupEntry[]): Promise<FileOutcome[]> {
    const { metrics, quarantine } = this.deps;
    const first = new Map<string, GroupEntry>();
    for (const entry of entries) if (!first.has(entry.file.path)) first.set(entry.file.path, entry);
    const outcomes = new Map<string, FileOutcome>();
    const ready: ReadyFile[] = [];
    for (const entry of first.values()) {
      const checked = await quarantine.onFault(entry, () => this.verify(entry));
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

  /** The file in the store must be the one announced (same bytes, same object generation); a file already handled earlier is recognised. */
  private async verify(entry: GroupEntry): Promise<ReadyFile | FileOutcome> {
    const { local, metrics, logger } = this.deps;
    const { file, origin } = entry;
    const objects = local.kind === 'object';
    if (file.origin === 'event' && (file.location ?? null) !== (objects ? local.location : null)) {
      throw new PermanentFileError('wrong_location', `${file.path} was announced in ${file.location ?? "the processor's local directory"}, this loader reads ${local.location}`);
    }
    // the waiting file first: one read in the usual case
    const stored = await local.stat(file.path);
    const where = stored ? 'input' : await local.locate(file.path);
    if (where === 'loaded') {
      metrics.alreadyLoaded.inc({ topic: file.topic, how: 'marked' });
      logger.info({ file: file.path }, 'file already loaded (found under loaded/)');
      return 'already-loaded';
    }
    if (where === 'quarantine') return this.deps.quarantine.reportAgain(entry);
    const absolute = local.address(file.path);
    if (!stored) {
      // Files leave the input area only after both tables have their rows (retention 0 deletes them then).
      if (file.rows !== null && (await retryStep(this.deps, 'presence check', [entry], () => this.deps.warehouse.rowsPresent(file))) === file.rows) {
        metrics.alreadyLoaded.inc({ topic: file.topic, how: 'present' });
        logger.info({ file: file.path }, 'file gone but its rows are in the changes table: already loaded');
        return 'already-loaded';
      }
      throw new PermanentFileError(objects ? 'missing_object' : 'missing_file', `${absolute} does not exist (nor under loaded/ or quarantine/)`);
    }
    if (file.generation && stored.generation !== file.generation) {
      throw new PermanentFileError('object_changed', `${absolute}: generation ${stored.generation} in the bucket, announced ${file.generation} (replaced after its announcement)`);
    }
    if ((file.md5 && stored.md5 !== file.md5) || (file.crc32c && stored.crc32c !== file.crc32c)) {
      throw new PermanentFileError('checksum_mismatch', `${file.path}: md5 ${stored.md5} crc32c ${stored.crc32c} stored, announced md5 ${file.md5} crc32c ${file.crc32c}`);
    }
    return { file, origin, absolute, md5: stored.md5, crc32c: stored.crc32c, bytes: stored.bytes, generation: stored.generation };
  }

  /** The group's verified files in one go; when the load blames the files, each alone (to quarantine only the bad one). */
  private async loadReady(ready: ReadyFile[]): Promise<Map<string, FileOutcome>> {
    const { quarantine, logger } = this.deps;
    const outcomes = new Map<string, FileOutcome>();
    if (ready.length === 0) return outcomes;
    try {
      await this.runSteps(ready);
      for (const file of ready) outcomes.set(file.file.path, 'loaded');
    } catch (error) {
      if (!(error instanceof PermanentFileError)) throw error;
      if (ready.length === 1) {
        outcomes.set(ready[0]!.file.path, await quarantine.quarantine(ready[0]!, error));
        return outcomes;
      }
      logger.warn({ files: ready.length, error: error.message }, 'the group load failed on its files; loading them one by one to find the bad one');
      for (const file of ready) {
        const result = await quarantine.onFault(file, async () => {
          await this.runSteps([file]);
          return 'loaded' as const;
        });
        outcomes.set(file.file.path, result);
      }
    }
    return outcomes;
  }

  /** The steps in order, each timed (milliseconds per step, logged with the group: where the time goes). */
  private async runSteps(files: readonly ReadyFile[]): Promise<void> {
    const group: GroupState<O> = { files, sources: [], attempt: null, bounds: boundsOf(files.map((f) => f.file)), inserted: 0, merged: 0 };
    const ms: Record<string, number> = {};
    for (const step of this.steps) {
      if (step.when && !step.when(group, this.deps)) continue;
      const start = Date.now();
      try {
        await step.run(group, this.deps);
      } finally {
        ms[step.name] = Date.now() - start;
      }
    }
    this.report(group, ms);
  }

  private report({ files, attempt, inserted, merged }: GroupState<O>, ms: Record<string, number>): void {
    const { metrics, logger, stage, settings } = this.deps;
    const log = logger.child({ group: attempt?.key, staging: attempt?.stagingTable, files: files.length });
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
    log.info({ rows: inserted, alreadyPresent: Math.max(0, staged - inserted), currentRowsChanged: merged, via: settings.staging === 'storage-write' ? 'storage-write' : stage ? 'gcs' : 'local', ms }, 'group loaded');
  }
}
