import { LocalParquetStore, type ExistingFile, type ParquetStore, type StoredFile } from '@cdc/core';
import type { ParquetRow } from '../transform/to-row.js';
import type { ParquetFileWriter, ParquetRowBuffer } from './parquet-writer.js';

/**
 * The processor's side of the Parquet store: a batch's rows written as one file, put into place under its final
 * name (a local rename, or an upload that never replaces an object) before it is announced.
 */
export class FileStore {
  readonly store: ParquetStore;

  constructor(
    store: ParquetStore | string,
    private readonly writer: ParquetFileWriter,
  ) {
    this.store = typeof store === 'string' ? new LocalParquetStore(store) : store;
  }

  get location(): string {
    return this.store.location;
  }

  /** the bucket prefix the files go to (named in their file-ready events); null for a local directory */
  get bucketLocation(): string | null {
    return this.store.kind === 'object' ? this.store.location : null;
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
    return this.store.address(relativePath);
  }

  /** Writes rows to `relativePath` atomically; returns the file as stored (checksums, generation). */
  writeAtomically(relativePath: string, rows: ParquetRowBuffer | readonly ParquetRow[]): Promise<StoredFile> {
    return this.store.writeFinished(relativePath, (tempPath) => this.writer.write(tempPath, rows));
  }

  /** Every entry under `<topic>/dt=*` (files and temp files), as relative paths. */
  listTopicFiles(topic: string): Promise<ExistingFile[]> {
    return this.store.listTopic(topic);
  }

  remove(relativePaths: readonly string[]): Promise<void> {
    return this.store.remove(relativePaths);
  }
}
