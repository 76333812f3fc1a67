import { withDeadlineOf } from '@cdc/core';
import { isNotFound, type Storage } from '@cdc/core/gcp';
import type { WaitLimits } from './bigquery-load.js';
import { PermanentFileError } from './errors.js';

export interface StagedFile {
  path: string;
  md5: string;
  crc32c: string;
  bytes: number;
  fileId: string;
}

/** The staging bucket: object names mirror the local relative paths. */
export class GcsStage {
  constructor(
    private readonly storage: Storage,
    readonly bucketName: string,
    private readonly resumableMinBytes: number,
    /** requestMs bounds each metadata request and deletion, jobMs the upload of one file */
    private readonly limits: WaitLimits,
  ) {}

  uri(path: string): string {
    return `gs://${this.bucketName}/${path}`;
  }

  object(path: string) {
    return this.storage.bucket(this.bucketName).file(path);
  }

  private async checksumsOf(path: string): Promise<{ md5: string | undefined; crc32c: string | undefined } | null> {
    try {
      const [metadata] = await withDeadlineOf(`Cloud Storage metadata of ${this.uri(path)}`, this.limits.requestMs, () => this.object(path).getMetadata());
      return { md5: metadata.md5Hash, crc32c: metadata.crc32c };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /**
   * Uploads unless the object is already there with the same content (a retry after a crash), resumable for large
   * files, CRC-32C validated by the client; then the stored object's checksums must equal the announced ones.
   */
  async upload(localPath: string, file: StagedFile): Promise<'uploaded' | 'present'> {
    const present = await this.checksumsOf(file.path);
    if (present && present.md5 === file.md5 && (present.crc32c === undefined || present.crc32c === file.crc32c)) return 'present';
    await withDeadlineOf(`Cloud Storage upload of ${this.uri(file.path)}`, this.limits.jobMs, () =>
      this.storage.bucket(this.bucketName).upload(localPath, {
        destination: file.path,
        resumable: file.bytes >= this.resumableMinBytes,
        validation: 'crc32c',
        metadata: { contentType: 'application/vnd.apache.parquet', metadata: { file_id: file.fileId } },
      }),
    );
    const stored = await this.checksumsOf(file.path);
    if (!stored) throw new Error(`object ${this.uri(file.path)} is missing right after its upload`);
    if (stored.md5 !== file.md5 || (stored.crc32c !== undefined && stored.crc32c !== file.crc32c)) {
      throw new PermanentFileError('checksum_mismatch', `stored object ${this.uri(file.path)} has md5 ${stored.md5} crc32c ${stored.crc32c}, the file was announced with md5 ${file.md5} crc32c ${file.crc32c}`);
    }
    return 'uploaded';
  }

  /** The object is no longer needed (its rows are in both tables); already gone is fine. */
  async remove(path: string): Promise<void> {
    try {
      await withDeadlineOf(`Cloud Storage deletion of ${this.uri(path)}`, this.limits.requestMs, () => this.object(path).delete());
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
