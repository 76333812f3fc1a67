import { mkdir, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { File, Storage } from '@google-cloud/storage';
import { fileChecksums } from '../files/checksum.js';
import { tempName } from '../files/layout.js';
import { areaPath, FileExistsError, isPendingPath, LOADED_DIR, type ExistingFile, type FileArea, type FileLocation, type LocalCopy, type ParquetStore, type QuarantineNote, type StoredFile } from '../files/store.js';
import { withDeadlineOf } from '../lifecycle/deadline.js';
import { isNotFound, isPreconditionFailed } from './errors.js';

export interface ObjectStoreSettings {
  bucket: string;
  /** '' or ending with '/' */
  prefix: string;
  /** local directory of the files being written (deleted once uploaded) and of local copies */
  scratchDir: string;
  /** files at least this large are uploaded with a resumable upload */
  resumableMinBytes: number;
  /** one metadata, listing or deletion request answered within this, else it fails as transient */
  requestTimeoutMs: number;
  /** one upload, download or copy done within this, else it fails as transient */
  transferTimeoutMs: number;
}

/** An object's metadata as the store reads it. */
interface ObjectInfo {
  md5Hash?: string;
  crc32c?: string;
  size?: string | number;
  generation?: string | number;
  timeCreated?: string;
}

const PARQUET = 'application/vnd.apache.parquet';

/**
 * The Parquet files as objects of a bucket, under a prefix: `gs://<bucket>/<prefix><path>`. A file is uploaded
 * under its final name with `ifGenerationMatch: 0` (it never replaces an object, so a take-over cannot overwrite
 * another owner's file) and its MD5 and CRC-32C checked against the local bytes; the generation then names that
 * exact content. Local disk holds only the files being written (one per partition being flushed).
 */
export class ObjectParquetStore implements ParquetStore {
  readonly kind = 'object';

  constructor(
    private readonly storage: Storage,
    private readonly settings: ObjectStoreSettings,
  ) {}

  get location(): string {
    return `gs://${this.settings.bucket}/${this.settings.prefix}`;
  }

  get bucketName(): string {
    return this.settings.bucket;
  }

  objectName(path: string, area: FileArea = 'input'): string {
    return `${this.settings.prefix}${areaPath(path, area)}`;
  }

  address(path: string, area: FileArea = 'input'): string {
    return `gs://${this.settings.bucket}/${this.objectName(path, area)}`;
  }

  // the client has no working deadline of its own: a Cloud Storage that takes the connection and never answers would
  // hold a flush or a group for ever
  private request<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withDeadlineOf(`Cloud Storage ${what}`, this.settings.requestTimeoutMs, call);
  }

  private transfer<T>(what: string, call: () => Promise<T>): Promise<T> {
    return withDeadlineOf(`Cloud Storage ${what}`, this.settings.transferTimeoutMs, call);
  }

  /** The object's handle (pinned to a generation when given): what a load job reads. */
  object(path: string, area: FileArea = 'input', generation?: string | null): File {
    return this.storage.bucket(this.settings.bucket).file(this.objectName(path, area), generation ? { generation } : {});
  }

  private async info(path: string, area: FileArea = 'input'): Promise<ObjectInfo | null> {
    try {
      const [metadata] = await this.request(`metadata of ${this.address(path, area)}`, () => this.object(path, area).getMetadata());
      return metadata as ObjectInfo;
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  private static stored(path: string, info: ObjectInfo): StoredFile {
    return { path, md5: info.md5Hash ?? '', crc32c: info.crc32c ?? '', bytes: Number(info.size ?? 0), generation: info.generation === undefined ? null : String(info.generation) };
  }

  async writeFinished(path: string, write: (tempPath: string) => Promise<unknown>): Promise<StoredFile> {
    await mkdir(this.settings.scratchDir, { recursive: true });
    const tempPath = join(this.settings.scratchDir, tempName(posix.basename(path)));
    await rm(tempPath, { force: true });
    try {
      await write(tempPath);
      const checksums = await fileChecksums(tempPath);
      let info: ObjectInfo;
      try {
        const [, metadata] = await this.transfer(`upload of ${this.address(path)}`, () => this.storage.bucket(this.settings.bucket).upload(tempPath, {
          destination: this.objectName(path),
          resumable: checksums.bytes >= this.settings.resumableMinBytes,
          validation: 'crc32c',
          // never replaces an object: another owner's file stays as it is
          preconditionOpts: { ifGenerationMatch: 0 },
          metadata: { contentType: PARQUET, md5Hash: checksums.md5, crc32c: checksums.crc32c },
        }));
        info = metadata as ObjectInfo;
      } catch (error) {
        if (!isPreconditionFailed(error)) throw error;
        // Taken: our own upload whose answer was lost (same bytes), or another owner's file.
        const present = await this.info(path);
        if (!present || present.md5Hash !== checksums.md5 || present.crc32c !== checksums.crc32c) throw new FileExistsError(this.address(path));
        info = present;
      }
      if (info.md5Hash !== checksums.md5 || info.crc32c !== checksums.crc32c || Number(info.size) !== checksums.bytes) {
        throw new Error(`${this.address(path)} stored with md5 ${info.md5Hash} crc32c ${info.crc32c} size ${info.size}, written with md5 ${checksums.md5} crc32c ${checksums.crc32c} size ${checksums.bytes}`);
      }
      return ObjectParquetStore.stored(path, info);
    } finally {
      await rm(tempPath, { force: true }).catch(() => undefined);
    }
  }

  private async list(prefix: string): Promise<File[]> {
    const [files] = await this.request(`listing of ${this.location}${prefix}`, () => this.storage.bucket(this.settings.bucket).getFiles({ prefix: `${this.settings.prefix}${prefix}`, autoPaginate: true }));
    return files;
  }

  private relative(file: File): string {
    return file.name.slice(this.settings.prefix.length);
  }

  async listTopic(topic: string): Promise<ExistingFile[]> {
    const files = await this.list(`${topic}/dt=`);
    return files.map((f) => this.relative(f)).filter((path) => path.split('/').length === 3).map((path) => ({ path, name: posix.basename(path) }));
  }

  private async deleteObject(file: File): Promise<void> {
    try {
      await this.request(`deletion of gs://${this.settings.bucket}/${file.name}`, () => file.delete());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async remove(paths: readonly string[]): Promise<void> {
    await Promise.all(paths.map((path) => this.deleteObject(this.object(path))));
  }

  async stat(path: string): Promise<StoredFile | null> {
    const info = await this.info(path);
    return info ? ObjectParquetStore.stored(path, info) : null;
  }

  async locate(path: string): Promise<FileLocation> {
    for (const area of ['input', 'loaded', 'quarantine'] as const) if (await this.info(path, area)) return area;
    return 'missing';
  }

  /** Copies the waiting object into the area (a new object, created now: the retention clock starts), then deletes it. */
  private async moveTo(path: string, area: 'loaded' | 'quarantine'): Promise<string> {
    await this.transfer(`copy of ${this.address(path)} to ${area}/`, () => this.object(path).copy(this.object(path, area)));
    await this.deleteObject(this.object(path));
    return this.address(path, area);
  }

  async markLoaded(path: string, retentionHours: number): Promise<void> {
    if (retentionHours === 0) return this.deleteObject(this.object(path));
    try {
      await this.moveTo(path, 'loaded');
    } catch (error) {
      // moved already (a crash after the copy, before the offset commit)
      if (!isNotFound(error) || !(await this.info(path, 'loaded'))) throw error;
    }
  }

  async quarantine(path: string, note: QuarantineNote): Promise<string | null> {
    const moved = (await this.info(path)) ? await this.moveTo(path, 'quarantine') : null;
    await this.request(`reason of ${this.address(path, 'quarantine')}`, () =>
      this.storage
        .bucket(this.settings.bucket)
        .file(`${this.objectName(path, 'quarantine')}.reason.json`)
        .save(`${JSON.stringify(note, null, 2)}\n`, { resumable: false, contentType: 'application/json' }),
    );
    return moved;
  }

  async quarantineNote(path: string): Promise<QuarantineNote | null> {
    try {
      const [content] = await this.request(`reason of ${this.address(path, 'quarantine')}`, () => this.storage.bucket(this.settings.bucket).file(`${this.objectName(path, 'quarantine')}.reason.json`).download());
      return JSON.parse(content.toString('utf8')) as QuarantineNote;
    } catch {
      return null;
    }
  }

  async listPending(): Promise<string[]> {
    return (await this.list('')).map((f) => this.relative(f)).filter(isPendingPath).sort();
  }

  async sweepLoaded(retentionHours: number, now = Date.now()): Promise<number> {
    const cutoff = now - retentionHours * 3600_000;
    const old = (await this.list(`${LOADED_DIR}/`)).filter((f) => Date.parse(String((f.metadata as ObjectInfo).timeCreated ?? now)) < cutoff);
    await Promise.all(old.map((f) => this.deleteObject(f)));
    return old.length;
  }

  async localCopy(path: string, generation?: string | null): Promise<LocalCopy> {
    await mkdir(this.settings.scratchDir, { recursive: true });
    const local = join(this.settings.scratchDir, `copy-${process.pid}-${Math.random().toString(36).slice(2)}-${posix.basename(path)}`);
    await this.transfer(`download of ${this.address(path)}`, () => this.object(path, 'input', generation).download({ destination: local, validation: 'crc32c' }));
    return { path: local, release: () => rm(local, { force: true }) };
  }
}
