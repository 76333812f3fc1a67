import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSnapshotComplete, type Logger } from '@cdc/core';
import type { WarehouseNames } from '@cdc/core/gcp';
import type { BigQueryLoader } from './sink/bigquery-load.js';
import { buildInsertSnapshotDeletes, buildMergeSnapshotDeletes, buildSnapshotSeenCount, buildStagedMarkers, type SnapshotCompletion } from './sink/snapshot-sql.js';
import type { LoaderMetrics } from './metrics.js';

/**
 * Snapshots that replaced a lost history, from their snapshot-complete markers to their deletes. A marker can load
 * before the snapshot rows of other partitions, so the deletes wait until the changes table holds as many of the
 * snapshot's documents as the marker counts: deleting earlier would delete documents whose snapshot row is still
 * on its way. Markers waiting are kept as files on the shared disk (written before the marker's file is marked and
 * its offset committed, removed once the deletes are merged), so a crash or restart at any step goes on from there:
 * every step is idempotent.
 */
export class SnapshotCompletions {
  constructor(
    /** on the shared disk: all loader instances see the same markers */
    private readonly dir: string,
    private readonly bigquery: BigQueryLoader,
    private readonly names: WarehouseNames,
    private readonly metrics: LoaderMetrics,
    private readonly logger: Logger,
  ) {}

  /** Keeps the markers of a staged group until their snapshot is loaded. */
  async record(staging: string): Promise<void> {
    const rows = await this.bigquery.rows(buildStagedMarkers(this.names, staging));
    if (rows.length === 0) return;
    await mkdir(this.dir, { recursive: true });
    for (const row of rows) {
      const completion: SnapshotCompletion = {
        eventId: String(row.event_id),
        db: String(row.db),
        coll: String(row.coll),
        instance: String(row.source_instance),
        snapshotAt: { t: Number(row.t), i: Number(row.i) },
        events: decodeSnapshotComplete(String(row.document)).snapshot_events,
        marker: { topic: String(row.kafka_topic), partition: Number(row.kafka_partition), offset: Number(row.kafka_offset) },
      };
      const path = join(this.dir, `${completion.eventId}.json`);
      await writeFile(`${path}.tmp`, JSON.stringify(completion));
      await rename(`${path}.tmp`, path);
      this.logger.info({ ...completion }, 'snapshot-complete marker loaded: its deletes follow once all its rows are');
    }
  }

  /** Applies the deletes of every waiting snapshot whose rows are all loaded (`afterInsert`: the tests' crash point). */
  async applyReady(afterInsert: () => void = () => undefined): Promise<void> {
    const waiting = await this.waiting();
    let stillWaiting = 0;
    for (const [path, completion] of waiting) {
      const [row] = await this.bigquery.rows(buildSnapshotSeenCount(this.names, completion));
      const seen = Number(row?.seen ?? 0);
      if (seen < completion.events) {
        stillWaiting++;
        this.logger.info({ snapshot: completion.eventId, seen, events: completion.events }, 'snapshot rows still loading: its deletes wait');
        continue;
      }
      const inserted = await this.bigquery.run(buildInsertSnapshotDeletes(this.names, completion));
      afterInsert();
      const deleted = await this.bigquery.run(buildMergeSnapshotDeletes(this.names, completion));
      await rm(path, { force: true });
      this.metrics.snapshotDeletes.inc(deleted);
      this.logger.info(
        { snapshot: completion.eventId, db: completion.db, coll: completion.coll, instance: completion.instance, snapshotAt: completion.snapshotAt, deleteRows: inserted, deleted },
        'snapshot complete: documents it did not see deleted from the current state',
      );
    }
    this.metrics.snapshotsWaiting.set(stillWaiting);
  }

  private async waiting(): Promise<[string, SnapshotCompletion][]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const found: [string, SnapshotCompletion][] = [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const path = join(this.dir, name);
      found.push([path, JSON.parse(await readFile(path, 'utf8')) as SnapshotCompletion]);
    }
    return found;
  }
}
