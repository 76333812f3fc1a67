import { FILE_EVENT_SCHEMA_VERSION, type FileReadyEvent } from '@cdc/core';
import { fileId, type FileRange } from './file-layout.js';
import type { BatchStats } from '../transform/batch.js';
import type { FileChecksums } from '@cdc/core';

// The event schema and decoder live in @cdc/core (shared with the loader); re-exported for the processor's users.
export { decodeFileReadyEvent, FILE_EVENT_SCHEMA_VERSION, fileEventKey, FileReadyEventSchema, type FileReadyEvent } from '@cdc/core';

export interface WrittenFile {
  range: FileRange;
  path: string;
  rows: number;
  /** checksums and, in a bucket, the generation */
  checksums: FileChecksums & { generation?: string | null };
  /** the bucket prefix `path` is relative to; none: the local output directory */
  location?: string | null;
  stats: BatchStats;
  deadLetters: number;
  compression: string;
  writer: string;
}

export function fileReadyEvent(file: WrittenFile, createdAt: Date): FileReadyEvent {
  const iso = (seconds: number | null) => new Date((seconds ?? 0) * 1000).toISOString();
  return {
    schema_version: FILE_EVENT_SCHEMA_VERSION,
    file_id: fileId(file.range),
    path: file.path,
    topic: file.range.topic,
    partition: file.range.partition,
    first_offset: file.range.firstOffset,
    last_offset: file.range.lastOffset,
    rows: file.rows,
    bytes: file.checksums.bytes,
    md5: file.checksums.md5,
    crc32c: file.checksums.crc32c,
    ...(file.location ? { location: file.location } : {}),
    ...(file.checksums.generation ? { generation: file.checksums.generation } : {}),
    min_cluster_time: iso(file.stats.minClusterTime),
    max_cluster_time: iso(file.stats.maxClusterTime),
    ops: file.stats.ops,
    dead_letters: file.deadLetters,
    compression: file.compression,
    writer: file.writer,
    created_at: createdAt.toISOString(),
  };
}
