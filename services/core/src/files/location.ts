import { z } from 'zod';
import { bucketNameProblem, gcpSettings } from '../gcp/settings.js';

/** Where the Parquet files go (processor) or come from (loader): a local directory or a bucket prefix. */
export type StoreLocation = { kind: 'local'; dir: string } | { kind: 'object'; bucket: string; /** '' or ending with '/' */ prefix: string };

const BUCKET_URI = /^gs:\/\/([^/]*)(?:\/(.*))?$/;

/**
 * `gs://bucket/prefix` (bucket named by Cloud Storage's rules, prefix without empty or dot segments) or a local
 * directory; throws with the reason otherwise.
 */
export function parseStoreLocation(value: string): StoreLocation {
  const text = value.trim();
  if (text === '') throw new Error('must be a local directory or gs://bucket/prefix');
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && !text.startsWith('gs://')) throw new Error(`${text}: only gs:// buckets and local directories are supported`);
  const match = BUCKET_URI.exec(text);
  if (!match) return { kind: 'local', dir: text };
  const bucket = match[1]!;
  const problem = bucketNameProblem(bucket);
  if (problem) throw new Error(`bucket ${JSON.stringify(bucket)}: ${problem}`);
  const prefix = (match[2] ?? '').replace(/\/+$/, '');
  if (prefix !== '' && prefix.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`prefix ${JSON.stringify(prefix)}: no empty, . or .. segments`);
  return { kind: 'object', bucket, prefix: prefix === '' ? '' : `${prefix}/` };
}

/** The setting's check: fails at start naming the variable when the value is neither a directory nor a bucket URI. */
export const storeLocation = z.string().superRefine((value, ctx) => {
  try {
    parseStoreLocation(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export function describeLocation(location: StoreLocation): string {
  return location.kind === 'local' ? location.dir : `gs://${location.bucket}/${location.prefix}`;
}

/** The Google Cloud variables a service writing to or reading from a bucket needs (no BigQuery): the same declarations as the loader's. */
export const objectStoreClientSettings = {
  GOOGLE_APPLICATION_CREDENTIALS: gcpSettings.GOOGLE_APPLICATION_CREDENTIALS,
  GCP_PROJECT: gcpSettings.GCP_PROJECT,
  GCS_ENDPOINT: gcpSettings.GCS_ENDPOINT,
};
