import type { FileChecksums } from '@cdc/core';
import type { LoadableFile } from '../transform/loadable-file.js';

export type FileOutcome = 'loaded' | 'already-loaded' | 'quarantined';

/** Where the file came from, for the dead-letter record. */
export interface FileOrigin {
  key: string | null;
  event: Buffer | null;
  source: { topic: string; partition: number; offset: string } | null;
}

export interface GroupEntry {
  file: LoadableFile;
  origin: FileOrigin;
}

/** A file verified in its store, ready to be loaded. */
export interface ReadyFile extends GroupEntry, FileChecksums {
  /** the local path, or gs://bucket/object */
  absolute: string;
  /** the object's generation verified (a bucket store), else null */
  generation: string | null;
}
