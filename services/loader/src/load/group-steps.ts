import type { Logger } from '@cdc/core';
import { gcpErrorInfo } from '@cdc/core/gcp';
import { groupAttempt, type GroupAttempt } from '../transform/job-id.js';
import { PermanentFileError } from '../sink/errors.js';
import type { LoadableFile } from '../transform/loadable-file.js';
import type { TimeBounds } from '../sink/sql.js';
import type { JobCounter } from '../sink/bigquery-load.js';
import type { FileStore, SourceOf, StagingBucket, Warehouse } from '../sink/ports.js';
import type { LoaderMetrics } from '../metrics.js';
import type { LoadHealth } from '../load-health.js';
import type { LoaderFaultPoints } from './fault-points.js';
import type { Quarantine } from './quarantine.js';
import { retryStep, type StepRetryDeps } from './step-retry.js';
import type { ReadyFile } from './entries.js';

/** The deletes of snapshots that replaced a lost history (SnapshotCompletions). */
export interface SnapshotDeletes {
  /** keeps the snapshot-complete markers of a staged group */
  record(staging: string): Promise<void>;
  /** applies the deletes of every snapshot whose rows are all loaded (`afterInsert`: the crash point) */
  applyReady(afterInsert: () => void): Promise<void>;
}

/** The typed views (TypedViews): extended with the fields of loaded files. */
export interface ViewUpdates {
  update(paths: readonly string[]): Promise<void>;
}

export interface GroupLoadSettings {
  changesTable: string;
  retentionHours: number;
  /** staging tables left by a crash are dropped by BigQuery after this long */
  stagingExpiryMs: number;
  /** load-job: from the bucket (or the disk) by a load job; storage-write: rows appended through the Storage Write API */
  staging: 'load-job' | 'storage-write';
}

export interface GroupLoadDeps<O> extends StepRetryDeps {
  /** the store the files are announced in */
  local: FileStore<O>;
  /** null: no usable bucket, files are loaded from the local disk */
  stage: StagingBucket<O> | null;
  warehouse: Warehouse<O>;
  budget: JobCounter;
  /** null: typed views switched off */
  views: ViewUpdates | null;
  completions: SnapshotDeletes;
  quarantine: Quarantine;
  faults: LoaderFaultPoints;
  metrics: LoaderMetrics;
  /** told of every failed attempt and every group done: readiness and the failing metrics */
  health: Pick<LoadHealth, 'failed' | 'loaded' | 'started'>;
  logger: Logger;
  settings: GroupLoadSettings;
}

/** One group on its way through the steps: what each step leaves for the next. */
export interface GroupState<O> {
  readonly files: readonly ReadyFile[];
  sources: SourceOf<O>[];
  attempt: GroupAttempt | null;
  bounds: TimeBounds | null;
  inserted: number;
  merged: number;
}

export interface GroupStep<O> {
  /** as in the group's log line of milliseconds per step */
  readonly name: string;
  /** the step runs only when this holds */
  readonly when?: (group: GroupState<O>, deps: GroupLoadDeps<O>) => boolean;
  run(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void>;
}

/** Uploads (and deletes) of one group's objects in flight at once: each is a few round trips, so a group of hundreds of files is not a queue of them. */
const UPLOAD_CONCURRENCY = 8;

function stagingTableOf(group: GroupState<unknown>): string {
  if (!group.attempt) throw new Error('the group has no staging table yet');
  return group.attempt.stagingTable;
}

/** Each file into the bucket (or, without one, read from the local disk by the load; or, announced in a bucket, read from its object). */
async function upload<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const { stage, logger, faults, local } = deps;
  const { files } = group;
  if (local.object) {
    group.sources = files.map((f) => ({ kind: 'gcs', object: local.object!(f.file.path) }));
    return;
  }
  if (!stage) {
    group.sources = files.map((f) => ({ kind: 'local', path: f.absolute }));
    return;
  }
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++]!;
      const staged = { path: f.file.path, md5: f.md5, crc32c: f.crc32c, bytes: f.bytes, fileId: f.file.fileId };
      const result = await retryStep(deps, 'upload', [f], () => stage.upload(f.absolute, staged));
      logger.debug({ object: stage.uri(f.file.path), result }, 'staged');
      faults.reached('upload');
    }
  };
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, files.length) }, worker));
  group.sources = files.map((f) => ({ kind: 'gcs', object: stage.object(f.file.path) }));
}

/** One attempt: a fresh staging table loaded with the group (dropped again when the attempt fails). */
async function stage<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const { warehouse, budget, settings } = deps;
  group.attempt = await retryStep(deps, 'load', group.files, async () => {
    const attempt = groupAttempt(
      settings.changesTable,
      group.files.map((f) => ({ topic: f.file.topic, partition: f.file.partition, firstOffset: f.file.firstOffset, lastOffset: f.file.lastOffset, md5: f.md5 })),
    );
    await warehouse.createStaging(attempt.stagingTable, settings.stagingExpiryMs);
    try {
      if (settings.staging === 'load-job') await warehouse.loadStaging(attempt.stagingTable, group.sources, attempt.jobId, budget);
      else await appendStaging(attempt.stagingTable, group, deps);
    } catch (error) {
      await warehouse.dropTable(attempt.stagingTable).catch(() => undefined);
      throw error;
    }
    return attempt;
  });
  deps.faults.reached('load');
}

/**
 * Files read from their announced objects: each must still be the generation verified before the load (a load job
 * cannot pin a generation), else what was loaded is not what was announced: the group fails on its files.
 */
async function recheckObjects<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const changed: string[] = [];
  for (const f of group.files) {
    const stored = await retryStep(deps, 'recheck', [f], () => deps.local.stat(f.file.path));
    if (stored?.generation !== f.generation) changed.push(`${f.absolute} (generation ${stored?.generation ?? 'none: deleted'}, verified ${f.generation})`);
  }
  if (changed.length === 0) return;
  await deps.warehouse.dropTable(stagingTableOf(group)).catch(() => undefined);
  throw new PermanentFileError('object_changed', `replaced or deleted during the load: ${changed.join(', ')}`);
}

/** Storage-write: the group's rows through a pending write stream; appends counted as the server acknowledges them (billed, even when the attempt fails later). */
async function appendStaging<O>(table: string, group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const { metrics, faults, local } = deps;
  // the rows are read here, not by BigQuery: an object is downloaded first, its generation checked
  const copies = await Promise.all(group.files.map((f) => local.localCopy(f.file.path, f.generation)));
  try {
    await deps.warehouse.appendStaging(
      table,
      copies.map((c) => c.path),
      {
        appended: ({ rows, bytes }) => {
          metrics.appendedBytes.inc(bytes);
          metrics.appendedRows.inc(rows);
          metrics.appendRequests.inc();
        },
        afterAppend: () => faults.reached('append'),
      },
    );
  } finally {
    await Promise.all(copies.map((c) => c.release()));
  }
}

/** A mutating statement, timed with its queueing (groups of one loader run one at a time; see "Choosing the staging method"). */
async function timedDml<T>(deps: GroupLoadDeps<unknown>, statement: 'insert' | 'merge', run: () => Promise<T>): Promise<T> {
  const end = deps.metrics.dmlSeconds.startTimer({ statement });
  try {
    return await run();
  } finally {
    end();
  }
}

/** Into the changes table, the staged records not already there. */
async function insert<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  group.inserted = await retryStep(deps, 'insert', group.files, () => timedDml(deps, 'insert', () => deps.warehouse.insertNew(stagingTableOf(group), group.bounds)));
  deps.faults.reached('insert');
}

/** Into the current table, the group's newest state of each document. */
async function merge<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  group.merged = await retryStep(deps, 'merge', group.files, () => timedDml(deps, 'merge', () => deps.warehouse.mergeGroup(stagingTableOf(group), group.bounds)));
  deps.faults.reached('merge');
}

/** Before the marking: a marker is kept before its file's offset can be committed. */
function keepSnapshotMarkers<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  return retryStep(deps, 'snapshot markers', group.files, () => deps.completions.record(stagingTableOf(group)));
}

function applySnapshotDeletes<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  return retryStep(deps, 'snapshot deletes', group.files, () => deps.completions.applyReady(() => deps.faults.reached('snapshot_deletes')));
}

/** Before the marking: after a crash the files come again, still in the store, and the views catch up (objects read through local copies). */
function updateViews<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const { views, local } = deps;
  if (!views) return Promise.resolve();
  return retryStep(deps, 'typed views', group.files, async () => {
    const copies = await Promise.all(group.files.map((f) => local.localCopy(f.file.path, f.generation)));
    try {
      await views.update(copies.map((c) => c.path));
    } finally {
      await Promise.all(copies.map((c) => c.release()));
    }
  });
}

/** Under loaded/ (or removed, with no retention): a file found there again is known as loaded. */
async function markLoaded<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  for (const { file } of group.files) {
    await deps.local.markLoaded(file.path, deps.settings.retentionHours);
    deps.faults.reached('mark');
  }
}

/** Both tables have the rows: the staging table is no longer needed (if the drop fails, it expires). */
async function dropStaging<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const table = stagingTableOf(group);
  try {
    await deps.warehouse.dropTable(table);
  } catch (error) {
    deps.logger.warn({ staging: table, error: gcpErrorInfo(error) }, 'staging table not dropped; it expires by itself');
  }
}

/** Both tables have the rows: the staged objects go (no lasting second copy of the documents; if a delete fails, the bucket's lifecycle rule removes the object). */
async function deleteStagedObjects<O>(group: GroupState<O>, deps: GroupLoadDeps<O>): Promise<void> {
  const { stage, logger } = deps;
  if (!stage) return;
  const failed: { object: string; error: ReturnType<typeof gcpErrorInfo> }[] = [];
  for (let i = 0; i < group.files.length; i += UPLOAD_CONCURRENCY) {
    const batch = group.files.slice(i, i + UPLOAD_CONCURRENCY);
    await Promise.all(batch.map((f) => stage.remove(f.file.path).catch((error: unknown) => failed.push({ object: stage.uri(f.file.path), error: gcpErrorInfo(error) }))));
  }
  if (failed.length > 0) logger.warn({ failed }, 'staged objects not deleted; the bucket lifecycle rule (GCS_STAGING_MAX_AGE_DAYS) removes them');
}

/** Load jobs read the files from the bucket; the write API is sent the rows themselves. */
const viaBucket = (_: GroupState<unknown>, deps: GroupLoadDeps<unknown>) => deps.settings.staging === 'load-job';

const hasSnapshotMarkers = (group: GroupState<unknown>) => group.files.some((f) => f.file.snapshotMarkers !== 0);

/**
 * A verified group's steps, in order. Every step is idempotent or skips what is done, so a crash anywhere is
 * repaired by doing the group again, whatever files it then holds; the files are marked only once both tables,
 * the snapshot deletes and the views have them, and the staged objects deleted only after that.
 */
export function groupSteps<O>(): readonly GroupStep<O>[] {
  return [
    { name: 'upload', when: viaBucket, run: upload },
    { name: 'load', run: stage },
    // the write API was sent rows read from generation-pinned copies: nothing to check again
    { name: 'recheck', when: (group, deps) => deps.local.object !== undefined && viaBucket(group, deps), run: recheckObjects },
    { name: 'insert', run: insert },
    { name: 'merge', run: merge },
    { name: 'markers', when: hasSnapshotMarkers, run: keepSnapshotMarkers },
    { name: 'snapshot deletes', run: applySnapshotDeletes },
    { name: 'views', when: (_, deps) => deps.views !== null, run: updateViews },
    { name: 'mark', run: markLoaded },
    { name: 'drop', run: dropStaging },
    { name: 'unstage', when: viaBucket, run: deleteStagedObjects },
  ];
}

/** Cluster-time bounds of the group when every file announced them. */
export function boundsOf(files: readonly LoadableFile[]): TimeBounds | null {
  if (files.some((f) => !f.minClusterTime || !f.maxClusterTime)) return null;
  const min = files.map((f) => f.minClusterTime!).reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b));
  const max = files.map((f) => f.maxClusterTime!).reduce((a, b) => (Date.parse(a) >= Date.parse(b) ? a : b));
  return { minClusterTime: min, maxClusterTime: max };
}
