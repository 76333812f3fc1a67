import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import { fileChecksums, type FileChecksums } from './checksum.js';
import { tempName } from './layout.js';

/**
 * Where the Parquet files live, between the processor that writes them and the loader that loads them: a local
 * directory (one host, or a shared volume) or a bucket prefix (any number of hosts). One contract, two stores
 * (`LocalParquetStore` here, `ObjectParquetStore` in @cdc/core/gcp); the same contract tests run against both.
 *
 * Layout under the store's root, relative paths with forward slashes: `<topic>/dt=<day>/<file>` waiting,
 * `loaded/<path>` loaded (kept for the retention time), `quarantine/<path>` (+ `.reason.json`) refused.
 */
export interface ParquetStore {
  readonly kind: 'local' | 'object';
  /** the directory, or gs://bucket/prefix (for logs and errors) */
  readonly location: string;
  /**
   * A finished file into place under its final name, complete and durable, never over an existing file: `write`
   * writes the bytes to the local temp path it is given. Returns the file as stored (checksums verified).
   */
  writeFinished(path: string, write: (tempPath: string) => Promise<unknown>): Promise<StoredFile>;
  /** every entry under `<topic>/dt=*` (files and temp files): what a take-over sorts into announced and leftovers */
  listTopic(topic: string): Promise<ExistingFile[]>;
  /** already gone is fine */
  remove(paths: readonly string[]): Promise<void>;
  /** the waiting file as stored now (size, checksums, generation), null when there is none */
  stat(path: string): Promise<StoredFile | null>;
  locate(path: string): Promise<FileLocation>;
  /** the file's address in an area: a local path or gs://bucket/object */
  address(path: string, area?: FileArea): string;
  /** done: kept under loaded/ for the retention time, or removed at once when it is 0 */
  markLoaded(path: string, retentionHours: number): Promise<void>;
  /** moves the file (when there is one) to quarantine/ and writes the reason beside it; returns where it went */
  quarantine(path: string, note: QuarantineNote): Promise<string | null>;
  quarantineNote(path: string): Promise<QuarantineNote | null>;
  /** every `*.parquet` waiting (relative paths, sorted), outside loaded/ and quarantine/, no temp files */
  listPending(): Promise<string[]>;
  /** removes loaded files older than the retention time; returns how many went */
  sweepLoaded(retentionHours: number, now?: number): Promise<number>;
  /** the waiting file's content at a local path (an object is downloaded, generation checked), removed by `release` */
  localCopy(path: string, generation?: string | null): Promise<LocalCopy>;
}

export interface StoredFile extends FileChecksums {
  path: string;
  /** the object's generation; null on a local disk */
  generation: string | null;
}

export interface LocalCopy {
  path: string;
  release(): Promise<void>;
}

export interface ExistingFile {
  /** relative path, `<topic>/dt=<day>/<name>` */
  path: string;
  name: string;
}

export type FileArea = 'input' | 'loaded' | 'quarantine';
export type FileLocation = FileArea | 'missing';

/** Under the store's root: files loaded (kept for the retention time) and files that could not be loaded. */
export const LOADED_DIR = 'loaded';
export const QUARANTINE_DIR = 'quarantine';

export interface QuarantineNote {
  reason: string;
  error: string;
  file_id: string;
  quarantined_at: string;
  [key: string]: unknown;
}

/** A store was asked to write a file whose final name is taken (a take-over never overwrites another owner's file). */
export class FileExistsError extends Error {
  constructor(readonly location: string) {
    super(`${location} exists already with other content`);
  }
}

/** The relative path inside an area: `loaded/<path>`, `quarantine/<path>` or the path itself. */
export function areaPath(path: string, area: FileArea = 'input'): string {
  if (area === 'loaded') return posix.join(LOADED_DIR, path);
  if (area === 'quarantine') return posix.join(QUARANTINE_DIR, path);
  return path;
}

/** A relative path of a waiting file: `*.parquet`, not hidden, not under loaded/ or quarantine/. */
export function isPendingPath(path: string): boolean {
  const parts = path.split('/');
  return path.endsWith('.parquet') && !parts.some((p) => p.startsWith('.')) && parts[0] !== LOADED_DIR && parts[0] !== QUARANTINE_DIR;
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const isFile = async (path: string) =>
  stat(path).then(
    (s) => s.isFile(),
    () => false,
  );

/**
 * The local Parquet tree. A file appears under its final name only complete and durable: written to a temp name
 * in the same directory, fsynced, renamed (atomic on POSIX), directory fsynced. Moves to loaded/ and quarantine/
 * are renames within one file system.
 */
export class LocalParquetStore implements ParquetStore {
  readonly kind = 'local';
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  get location(): string {
    return this.root;
  }

  address(path: string, area: FileArea = 'input'): string {
    return join(this.root, ...areaPath(path, area).split('/'));
  }

  /** Creates missing directories and fsyncs the parent of each one created, so the new entries survive a crash. */
  private async ensureDir(dir: string): Promise<void> {
    const firstCreated = await mkdir(dir, { recursive: true });
    if (firstCreated === undefined) return;
    let current = dir;
    const created: string[] = [];
    while (current.length >= firstCreated.length) {
      created.push(current);
      current = dirname(current);
    }
    for (const d of created) await fsyncPath(dirname(d));
  }

  async writeFinished(path: string, write: (tempPath: string) => Promise<unknown>): Promise<StoredFile> {
    const finalPath = this.address(path);
    const dir = dirname(finalPath);
    await this.ensureDir(dir);
    const tempPath = join(dir, tempName(posix.basename(path)));
    await rm(tempPath, { force: true });
    try {
      await write(tempPath);
      await fsyncPath(tempPath);
      const checksums = await fileChecksums(tempPath);
      await rename(tempPath, finalPath);
      await fsyncPath(dir);
      return { path, generation: null, ...checksums };
    } catch (error) {
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  async listTopic(topic: string): Promise<ExistingFile[]> {
    const topicDir = this.address(topic);
    let days: string[];
    try {
      days = (await readdir(topicDir, { withFileTypes: true })).filter((d) => d.isDirectory() && d.name.startsWith('dt=')).map((d) => d.name);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const files: ExistingFile[] = [];
    for (const day of days) {
      for (const entry of await readdir(join(topicDir, day), { withFileTypes: true })) {
        if (entry.isFile()) files.push({ name: entry.name, path: posix.join(topic, day, entry.name) });
      }
    }
    return files;
  }

  async remove(paths: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const path of paths) {
      const absolute = this.address(path);
      await rm(absolute, { force: true });
      dirs.add(dirname(absolute));
    }
    for (const dir of dirs) await fsyncPath(dir).catch(() => undefined);
  }

  async stat(path: string): Promise<StoredFile | null> {
    if (!(await isFile(this.address(path)))) return null;
    return { path, generation: null, ...(await fileChecksums(this.address(path))) };
  }

  async locate(path: string): Promise<FileLocation> {
    for (const area of ['input', 'loaded', 'quarantine'] as const) if (await isFile(this.address(path, area))) return area;
    return 'missing';
  }

  private async moveTo(path: string, area: 'loaded' | 'quarantine'): Promise<string> {
    const target = this.address(path, area);
    await mkdir(dirname(target), { recursive: true });
    await rename(this.address(path), target);
    // The retention clock starts now (a rename keeps the old modification time).
    const now = new Date();
    await utimes(target, now, now);
    return target;
  }

  async markLoaded(path: string, retentionHours: number): Promise<void> {
    if (retentionHours === 0) {
      await rm(this.address(path), { force: true });
      return;
    }
    await this.moveTo(path, 'loaded');
  }

  async quarantine(path: string, note: QuarantineNote): Promise<string | null> {
    let moved: string | null = null;
    if (await isFile(this.address(path))) moved = await this.moveTo(path, 'quarantine');
    const notePath = `${this.address(path, 'quarantine')}.reason.json`;
    await mkdir(dirname(notePath), { recursive: true });
    await writeFile(notePath, `${JSON.stringify(note, null, 2)}\n`);
    return moved;
  }

  async quarantineNote(path: string): Promise<QuarantineNote | null> {
    try {
      return JSON.parse(await readFile(`${this.address(path, 'quarantine')}.reason.json`, 'utf8')) as QuarantineNote;
    } catch {
      return null;
    }
  }

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
        const rel = relative ? posix.join(relative, entry.name) : entry.name;
        if (entry.isDirectory()) {
          if (!entry.name.startsWith('.') && !(!relative && (entry.name === LOADED_DIR || entry.name === QUARANTINE_DIR))) await walk(join(dir, entry.name), rel);
        } else if (entry.isFile() && isPendingPath(rel)) {
          found.push(rel);
        }
      }
    };
    await walk(this.root, '');
    return found.sort();
  }

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

  async localCopy(path: string): Promise<LocalCopy> {
    return { path: this.address(path), release: async () => undefined };
  }
}

