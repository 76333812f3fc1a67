import { createHash } from 'node:crypto';

export interface LoadIdentity {
  dataset: string;
  table: string;
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** MD5 of the file, base64 */
  md5: string;
}

const MAX_JOB_ID = 1024;
const sanitize = (text: string) => text.replace(/[^A-Za-z0-9_-]/g, '_');

/**
 * The load job id of a file: the same file into the same table always gets the same id, so BigQuery itself
 * refuses a second load of it (409 duplicate) whoever asks and whenever. The checksum tells two different files of
 * the same range apart. Valid job ids are [A-Za-z0-9_-], at most 1024 characters.
 */
export function loadJobId(identity: LoadIdentity): string {
  const checksum = Buffer.from(identity.md5, 'base64').toString('hex').slice(0, 16) || sanitize(identity.md5).slice(0, 16);
  const range = `p${identity.partition}_${identity.firstOffset}_${identity.lastOffset}_${checksum}`;
  const id = `cdc_load_${sanitize(identity.dataset)}_${sanitize(identity.table)}_${sanitize(identity.topic)}_${range}`;
  // Room for the attempt suffix; very long names are replaced by their hash.
  if (id.length <= MAX_JOB_ID - 8) return id;
  const digest = createHash('sha256').update(`${identity.dataset}\0${identity.table}\0${identity.topic}`).digest('hex').slice(0, 32);
  return `cdc_load_${digest}_${range}`;
}

/** Attempt 1 uses the id itself; a later attempt (only after a failed one) `<id>_a<n>`, deterministic as well. */
export function attemptJobId(baseId: string, attempt: number): string {
  return attempt <= 1 ? baseId : `${baseId}_a${attempt}`;
}
