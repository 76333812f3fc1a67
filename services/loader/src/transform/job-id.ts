import { createHash, randomBytes } from 'node:crypto';

/** What identifies a file of a group: its source range and content. */
export interface FileIdentity {
  topic: string;
  partition: number;
  firstOffset: number;
  lastOffset: number;
  /** MD5 of the file, base64 */
  md5: string;
}

const sanitize = (text: string) => text.replace(/[^A-Za-z0-9_]/g, '_');

/** A short digest of a group's files (order does not matter): names its jobs and staging tables, for tracing. */
export function groupKey(files: readonly FileIdentity[]): string {
  const lines = files.map((f) => `${f.topic}\0${f.partition}\0${f.firstOffset}\0${f.lastOffset}\0${f.md5}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex').slice(0, 16);
}

/**
 * Names of one attempt to load a group: a fresh staging table and load job every attempt. Exactly-once does not
 * rest on these names (the insert from staging skips records already in the changes table), so an attempt never
 * has to find out what an earlier one left: a crashed attempt's table simply expires.
 */
export interface GroupAttempt {
  key: string;
  /** staging table, in the dataset of the changes table */
  stagingTable: string;
  /** id prefix of the attempt's load jobs (`_<n>` per job) */
  jobId: string;
}

/** Staging tables of the changes table start with this (to find those left by crashed attempts). */
export function stagingPrefix(changesTable: string): string {
  return `${sanitize(changesTable)}__stage_`;
}

export function groupAttempt(changesTable: string, files: readonly FileIdentity[], nonce = randomBytes(4).toString('hex')): GroupAttempt {
  const key = groupKey(files);
  return { key, stagingTable: `${stagingPrefix(changesTable)}${key}_${nonce}`, jobId: `cdc_group_${sanitize(changesTable)}_${key}_${nonce}` };
}
