import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join, posix, resolve } from 'node:path';
import type { ParquetRow } from '../transform/to-row.js';
import type { ParquetFileWriter, ParquetRowBuffer } from './parquet-writer.js';
import { fileChecksums, type FileChecksums } from './checksum.js';
import { tempName, type ExistingFile } from './file-layout.js';

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * The local Parquet tree. A file appears under its final name only complete and durable: written to a temp name
 * in the same directory, fsynced, renamed (atomic on POSIX), directory fsynced.
 */
export class FileStore {
  readonly root: string;

  constructor(
    root: string,
    private readonly writer: ParquetFileWriter,
  ) {
    this.root = resolve(root);
  }

  get compression(): string {
    return this.writer.compression;
  }

  get library(): string {
    return this.writer.library;
  }

  /** An empty buffer for the rows of a future file, in the writer's form. */
  newRows(): ParquetRowBuffer {
    return this.writer.newRows();
  }

  absolute(relativePath: string): string {
    return join(this.root, ...relativePath.split('/'));
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

  /** Writes rows to `relativePath` atomically; returns the checksums of the final file. */
  async writeAtomically(relativePath: string, rows: ParquetRowBuffer | readonly ParquetRow[]): Promise<FileChecksums> {
    const finalPath = this.absolute(relativePath);
    const dir = dirname(finalPath);
    await this.ensureDir(dir);
    const tempPath = join(dir, tempName(posix.basename(relativePath)));
    await rm(tempPath, { force: true });
    try {
      await this.writer.write(tempPath, rows);
      await fsyncPath(tempPath);
      const checksums = await fileChecksums(tempPath);
      await rename(tempPath, finalPath);
      await fsyncPath(dir);
      return checksums;
    } catch (error) {
      await rm(tempPath, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /** Every entry under `<topic>/dt=*` (files and temp files), as relative paths. */
  async listTopicFiles(topic: string): Promise<ExistingFile[]> {
    const topicDir = this.absolute(topic);
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

  async remove(relativePaths: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const path of relativePaths) {
      const absolute = this.absolute(path);
      await rm(absolute, { force: true });
      dirs.add(dirname(absolute));
    }
    for (const dir of dirs) await fsyncPath(dir);
  }
}
