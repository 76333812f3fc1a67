import { z } from 'zod';
import { OPERATIONS } from '../envelope/envelope.js';

export const FILE_EVENT_SCHEMA_VERSION = 1;

const offset = z.number().int().min(0);
const isoTime = z.string().datetime({ offset: true });

/**
 * Version 1 of the file-ready event, published to the files topic in the same Kafka transaction that commits the
 * consumer offsets past the file: a file is announced exactly once, and only after it is durably in place.
 * Key: `<topic>-<partition>`, so the files of one source partition stay in order on one files-topic partition.
 */
export const FileReadyEventSchema = z.object({
  schema_version: z.literal(FILE_EVENT_SCHEMA_VERSION),
  /** `<topic>-p<partition>-<first>-<last>`: deterministic from the range */
  file_id: z.string().min(1),
  /** relative to the processor's output directory, forward slashes: `<topic>/dt=<YYYY-MM-DD>/<file_id>.parquet` */
  path: z.string().min(1),
  topic: z.string().min(1),
  partition: z.number().int().min(0),
  /** the source offsets the file covers, inclusive; records of the range that are not rows went to the dead-letter topic */
  first_offset: offset,
  last_offset: offset,
  rows: z.number().int().positive(),
  bytes: z.number().int().positive(),
  /** MD5 of the file, base64 (as Cloud Storage's md5Hash) */
  md5: z.string().min(1),
  /** CRC-32C of the file, big-endian base64 (as Cloud Storage's crc32c) */
  crc32c: z.string().min(1),
  /** the bucket prefix `path` is relative to (`gs://<bucket>/<prefix>`); absent: the processor's local output directory */
  location: z.string().startsWith('gs://').optional(),
  /** the object's generation (decimal) when the file is in a bucket: the loader loads only that exact object */
  generation: z.string().regex(/^\d+$/).optional(),
  /** cluster times (second precision) of the oldest and newest change in the file */
  min_cluster_time: isoTime,
  max_cluster_time: isoTime,
  /** rows per operation type (an operation added later counts 0 in the events of an older processor) */
  ops: z.object(Object.fromEntries(OPERATIONS.map((op) => [op, z.number().int().min(0).default(0)])) as Record<(typeof OPERATIONS)[number], z.ZodDefault<z.ZodNumber>>),
  /** records of the range sent to the dead-letter topic in the same transaction */
  dead_letters: z.number().int().min(0),
  compression: z.string().min(1),
  writer: z.string().min(1),
  created_at: isoTime,
});
export type FileReadyEvent = z.infer<typeof FileReadyEventSchema>;

/** Key of file-ready events: all files of one source partition land, in order, on one files-topic partition. */
export function fileEventKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export function decodeFileReadyEvent(value: Buffer | string): FileReadyEvent {
  return FileReadyEventSchema.parse(JSON.parse(typeof value === 'string' ? value : value.toString('utf8')));
}
