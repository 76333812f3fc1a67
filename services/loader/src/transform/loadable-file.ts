import { posix } from 'node:path';
import { parseFileName, type FileReadyEvent } from '@cdc/core';

/** One Parquet file to load, from a file-ready event or found by polling the shared directory. */
export interface LoadableFile {
  fileId: string;
  /** relative to the input directory, forward slashes; also the object name in the bucket */
  path: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** what the processor announced; null when found by polling (then computed from the file) */
  rows: number | null;
  md5: string | null;
  crc32c: string | null;
  bytes: number | null;
  /** the bucket prefix the path is relative to (gs://bucket/prefix) when announced in a bucket, else null */
  location: string | null;
  /** the announced object's generation (bucket), else null */
  generation: string | null;
  /** ISO times bounding the file's cluster times (prune the MERGE source); null when unknown (polling) */
  minClusterTime: string | null;
  maxClusterTime: string | null;
  /** when the processor announced the file (ISO); null when found by polling */
  readyAt: string | null;
  /** snapshot-complete markers in the file; null when unknown (polling) */
  snapshotMarkers: number | null;
  origin: 'event' | 'poll';
}

export function fromFileReadyEvent(event: FileReadyEvent): LoadableFile {
  return {
    fileId: event.file_id,
    path: event.path,
    topic: event.topic,
    partition: event.partition,
    firstOffset: event.first_offset,
    lastOffset: event.last_offset,
    rows: event.rows,
    md5: event.md5,
    crc32c: event.crc32c,
    bytes: event.bytes,
    location: event.location ?? null,
    generation: event.generation ?? null,
    minClusterTime: event.min_cluster_time,
    maxClusterTime: event.max_cluster_time,
    readyAt: event.created_at,
    snapshotMarkers: event.ops.snapshot_complete,
    origin: 'event',
  };
}

/** A file found by polling: its identity comes from its name (`<topic>-p<partition>-<first>-<last>.parquet`). */
export function fromPolledPath(relativePath: string): LoadableFile | null {
  const name = posix.basename(relativePath);
  const range = parseFileName(name);
  if (!range) return null;
  return {
    fileId: name.slice(0, -'.parquet'.length),
    path: relativePath,
    topic: range.topic,
    partition: range.partition,
    firstOffset: range.firstOffset,
    lastOffset: range.lastOffset,
    rows: null,
    md5: null,
    crc32c: null,
    bytes: null,
    location: null,
    generation: null,
    minClusterTime: null,
    maxClusterTime: null,
    readyAt: null,
    snapshotMarkers: null,
    origin: 'poll',
  };
}

/** A path from an event must stay inside the input directory. */
export function isSafeRelativePath(path: string): boolean {
  if (path.startsWith('/') || path.includes('\\') || path.includes('\0')) return false;
  const normal = posix.normalize(path);
  return normal === path && !normal.startsWith('../') && normal !== '..' && normal.endsWith('.parquet');
}
