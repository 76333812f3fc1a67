import { posix } from 'node:path';

/** The source range a file covers: every record of [firstOffset, lastOffset] of one partition is in it or dead-lettered. */
export interface FileRange {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
}

const OFFSET_DIGITS = 12;
const pad = (offset: number) => String(offset).padStart(OFFSET_DIGITS, '0');
const FILE_NAME = /^(.+)-p(\d+)-(\d{12,})-(\d{12,})\.parquet$/;
const TEMP_NAME = /^\.(.+)\.tmp$/;

/** `<topic>-p<partition>-<firstOffset>-<lastOffset>.parquet`, offsets zero-padded to 12 digits so names sort by offset. */
export function fileName(range: FileRange): string {
  return `${range.topic}-p${range.partition}-${pad(range.firstOffset)}-${pad(range.lastOffset)}.parquet`;
}

/** Also the file id in file-ready events: deterministic, so a re-announcement of the same range is recognisable. */
export function fileId(range: FileRange): string {
  return fileName(range).slice(0, -'.parquet'.length);
}

export function parseFileName(name: string): FileRange | null {
  const match = FILE_NAME.exec(name);
  if (!match) return null;
  const [, topic, partition, first, last] = match;
  const range = { topic: topic!, partition: Number(partition), firstOffset: Number(first), lastOffset: Number(last) };
  return range.firstOffset <= range.lastOffset ? range : null;
}

/** The write-in-progress name, in the same directory so the rename is atomic; hidden from `*.parquet` globs. */
export function tempName(finalName: string): string {
  return `.${finalName}.tmp`;
}

/** The final name a temp file was headed for, or null when the name is not a temp file. */
export function parseTempName(name: string): string | null {
  return TEMP_NAME.exec(name)?.[1] ?? null;
}

/** UTC date of a cluster time (seconds) as YYYY-MM-DD: the `dt=` directory (BigQuery/Hive style partition). */
export function dayOf(clusterTimeSeconds: number): string {
  return new Date(clusterTimeSeconds * 1000).toISOString().slice(0, 10);
}

/** Path relative to the output directory, always with forward slashes: `<topic>/dt=<day>/<file name>`. */
export function relativeFilePath(range: FileRange, minClusterTimeSeconds: number): string {
  return posix.join(range.topic, `dt=${dayOf(minClusterTimeSeconds)}`, fileName(range));
}
