import type { Logger } from '@cdc/core';
import { fromPolledPath, type LoadableFile } from '../transform/loadable-file.js';
import type { FileGroups } from '../file-groups.js';
import type { ParquetStore } from '@cdc/core';

export interface DirectoryPollSettings {
  intervalMs: number;
}

/** The loadable files among the paths of one scan, in source order (unknown names skipped). */
export function planScan(paths: readonly string[]): LoadableFile[] {
  return paths
    .map(fromPolledPath)
    .filter((file): file is LoadableFile => file !== null)
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition || a.firstOffset - b.firstOffset);
}

/**
 * Poll mode (the prototype's way, kept as an option): scan the shared directory every interval and load every
 * `*.parquet` found, all of one scan handed to the groups at once. At-least-once: a file renamed into place by a
 * processor that crashed before announcing it is loaded too, although the processor later replaces it with a file
 * covering the same records (whose rows are then skipped as already present).
 */
export class DirectoryPollSource {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly local: ParquetStore,
    private readonly groups: FileGroups,
    private readonly logger: Logger,
    private readonly settings: DirectoryPollSettings,
    /** the service's stop: no scan starts once it is aborted */
    private readonly signal: AbortSignal,
  ) {}

  start(): void {
    const tick = () => {
      if (this.signal.aborted || this.running) return;
      this.running = this.scan()
        .catch((error: unknown) => this.logger.error({ err: error }, 'scan failed; next scan retries'))
        .finally(() => (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, this.settings.intervalMs);
  }

  async scan(): Promise<void> {
    const files = planScan(await this.local.listPending());
    if (files.length === 0) return;
    this.logger.info({ files: files.length }, 'scan found files');
    // A failed group is tried again by the groups; a file is handed back (rejected) only when the loader stops.
    await Promise.allSettled(files.map((file) => this.groups.submit(file, { key: null, event: null, source: null })));
  }

  /** A shutdown step: waits for the scan under way. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
