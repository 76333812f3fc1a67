import { mkdir, readdir, readFile, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { fileChecksums, type FileChecksums } from '@cdc/core';

/** Under the input directory: files loaded (kept for the retention time) and files that could not be loaded. */
export const LOADED_DIR = 'loaded';
export const QUARANTINE_DIR = 'quarantine';

export type FileLocation = 'input' | 'loaded' | 'quarantine' | 'missing';

export interface QuarantineNote {
  reason: string;
  error: string;
  file_id: string;
  quarantined_at: string;
  [key: string]: unknown;
}

const exists = async (path: string) =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  );

/**
 * The shared Parquet tree as the loader sees it: `<root>/<path>` waiting, `<root>/loaded/<path>` done,
 * `<root>/quarantine/<path>` (+ `.reason.json`) refused. Moves are renames within one file system.
 */
export class LocalFiles {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  absolute(relativePath: string, area: 'input' | 'loaded' | 'quarantine' = 'input'): string {
    const parts = relativePath.split('/');
    if (area === 'loaded') return join(this.root, LOADED_DIR, ...parts);
    if (area === 'quarantine') return join(this.root, QUARANTINE_DIR, ...parts);
    return join(this.root, ...parts);
  }

  async locate(relativePath: string): Promise<FileLocation> {
    if (await exists(this.absolute(relativePath))) return 'input';
    if (await exists(this.absolute(relativePath, 'loaded'))) return 'loaded';
    if (await exists(this.absolute(relativePath, 'quarantine'))) return 'quarantine';
    return 'missing';
  }

  private async moveTo(relativePath: string, area: 'loaded' | 'quarantine'): Promise<string> {
    const target = this.absolute(relativePath, area);
    await mkdir(dirname(target), { recursive: true });
    await rename(this.absolute(relativePath), target);
    // The retention clock starts now (a rename keeps the old modification time).
    const now = new Date();
    await utimes(target, now, now);
    return target;
  }

  /** MD5, CRC-32C and size of the waiting file. */
  checksums(relativePath: string): Promise<FileChecksums> {
    return fileChecksums(this.absolute(relativePath));
  }

  /** Done: kept under loaded/ for the retention time, or removed at once when it is 0. */
  async markLoaded(relativePath: string, retentionHours: number): Promise<void> {
    if (retentionHours === 0) {
      await rm(this.absolute(relativePath), { force: true });
      return;
    }
    await this.moveTo(relativePath, 'loaded');
  }

  /** Moves the file (when there is one) to quarantine/ and writes the reason beside it. Returns where it went. */
  async quarantine(relativePath: string, note: QuarantineNote): Promise<string | null> {
    let moved: string | null = null;
    if (await exists(this.absolute(relativePath))) moved = await this.moveTo(relativePath, 'quarantine');
    const notePath = `${this.absolute(relativePath, 'quarantine')}.reason.json`;
    await mkdir(dirname(notePath), { recursive: true });
    await writeFile(notePath, `${JSON.stringify(note, null, 2)}\n`);
    return moved;
  }

  async quarantineNote(relativePath: string): Promise<QuarantineNote | null> {
    try {
      return JSON.parse(await readFile(`${this.absolute(relativePath, 'quarantine')}.reason.json`, 'utf8')) as QuarantineNote;
    } catch {
      return null;
    }
  }

  /** Every `*.parquet` waiting under the root (relative paths, sorted), outside loaded/ and quarantine/, no hidden (temp) files. */
  async listPending(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, relative: string) => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      for (const entry of entries) {
        if (entry.name.startsWith('.')) continue;
        const rel = relative ? posix.join(relative, entry.name) : entry.name;
        if (entry.isDirectory()) {
          if (!relative && (entry.name === LOADED_DIR || entry.name === QUARANTINE_DIR)) continue;
          await walk(join(dir, entry.name), rel);
        } else if (entry.isFile() && entry.name.endsWith('.parquet')) {
          found.push(rel);
        }
      }
    };
    await walk(this.root, '');
    return found.sort();
  }

  /** Removes files under loaded/ older than the retention time, then empty directories. Returns how many files went. */
  async sweepLoaded(retentionHours: number, now = Date.now()): Promise<number> {
    const cutoff = now - retentionHours * 3600_000;
    let removed = 0;
    const sweep = async (dir: string): Promise<boolean> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch {
        return false;
      }
      let left = entries.length;
      for (const entry of entries) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
          if (await sweep(path)) left--;
        } else if ((await stat(path)).mtimeMs < cutoff) {
          await rm(path, { force: true });
          removed++;
          left--;
        }
      }
      if (left === 0 && dir !== join(this.root, LOADED_DIR)) {
        await rmdir(dir).catch(() => undefined);
        return true;
      }
      return false;
    };
    await sweep(join(this.root, LOADED_DIR));
    return removed;
  }
}
