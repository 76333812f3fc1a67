import type { Logger } from '@cdc/core';
import { gcpErrorInfo } from '@cdc/core/gcp';
import { fromPolledPath, type LoadableFile } from '../transform/loadable-file.js';
import type { FileLoader } from '../file-loader.js';
import type { LocalFiles } from '../sink/local-files.js';

export interface DirectoryPollSettings {
  intervalMs: number;
  concurrency: number;
}

/** Files found in one scan, grouped by source partition, each group in offset order. */
export function planScan(paths: readonly string[]): LoadableFile[][] {
  const groups = new Map<string, LoadableFile[]>();
  for (const path of paths) {
    const file = fromPolledPath(path);
    if (!file) continue;
    const key = `${file.topic}\u0000${file.partition}`;
    groups.set(key, [...(groups.get(key) ?? []), file]);
  }
  return [...groups.values()].map((files) => files.sort((a, b) => a.firstOffset - b.firstOffset));
}

/**
 * Poll mode (the prototype's way, kept as an option): scan the shared directory every interval and load every
 * `*.parquet` found. At-least-once: a file renamed into place by a processor that crashed before announcing it is
 * loaded too, although the processor later replaces it with a file covering the same records. The job id
 * (derived from name and checksum) still keeps the same file from loading twice.
 */
export class DirectoryPollSource {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopping = false;

  constructor(
    private readonly local: LocalFiles,
    private readonly loader: FileLoader,
    private readonly logger: Logger,
    private readonly settings: DirectoryPollSettings,
  ) {}

  start(): void {
    const tick = () => {
      if (this.stopping || this.running) return;
      this.running = this.scan()
        .catch((error: unknown) => this.logger.error({ err: error }, 'scan failed; next scan retries'))
        .finally(() => (this.running = null));
    };
    tick();
    this.timer = setInterval(tick, this.settings.intervalMs);
  }

  async scan(): Promise<void> {
    const groups = planScan(await this.local.listPending());
    if (groups.length === 0) return;
    this.logger.info({ files: groups.reduce((n, g) => n + g.length, 0), partitions: groups.length }, 'scan found files');
    let next = 0;
    const worker = async () => {
      while (!this.stopping && next < groups.length) {
        const group = groups[next++]!;
        for (const file of group) {
          if (this.stopping) return;
          try {
            await this.loader.load(file, { key: null, event: null, source: null });
          } catch (error) {
            // Transient trouble persisted: the rest of this partition waits for the next scan (order is kept).
            this.logger.error({ error: gcpErrorInfo(error), file: file.path }, 'file not loaded; retried at the next scan');
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.settings.concurrency, groups.length) }, worker));
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
