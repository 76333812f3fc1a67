import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import * as fields from '../config/fields.js';

const endpoint = z.string().regex(/^https?:\/\/[^\s/]+(\/.*)?$/, 'must be an http(s) URL').optional();
/** BigQuery dataset and table names: letters, digits, underscores. */
export const bigQueryName = (fallback: string) =>
  z.string().regex(/^[A-Za-z0-9_]{1,1024}$/, 'must be letters, digits and underscores').default(fallback);

/**
 * Google Cloud variables shared by the loader, gcp-utils and the analysis tool. An endpoint set means "emulator":
 * that client talks to it without credentials. Unset endpoints mean real Google Cloud, authenticated by the key
 * file in GOOGLE_APPLICATION_CREDENTIALS or else Application Default Credentials.
 */
export const gcpFields = () => ({
  GCP_PROJECT: fields.nonEmpty('local-project'),
  BQ_DATASET: bigQueryName('cdc'),
  /** where the dataset (and the bucket) are created and jobs run */
  BQ_LOCATION: fields.nonEmpty('US'),
  /** every change event, append-only */
  BQ_CHANGES_TABLE: bigQueryName('orders_changes'),
  /** one row per live document, kept by MERGE */
  BQ_CURRENT_TABLE: bigQueryName('orders_current'),
  /** staging bucket for Parquet files; empty: load files straight from the local disk */
  GCS_BUCKET: z.string().optional(),
  GCS_ENDPOINT: endpoint,
  BIGQUERY_ENDPOINT: endpoint,
  /**
   * service-account key file; checked to exist and to be a JSON credentials file (else the client libraries fail
   * later with a misleading network or auth error); its content is never logged nor put in an error message
   */
  GOOGLE_APPLICATION_CREDENTIALS: z
    .string()
    .optional()
    .superRefine((path, ctx) => {
      if (path === undefined) return;
      const problem = credentialsFileProblem(path);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
});

/** Why the file cannot be a Google credentials file (a JSON object with a `type`), or null; never quotes the content. */
function credentialsFileProblem(path: string): string | null {
  if (!existsSync(path) || !statSync(path).isFile()) return 'key file does not exist or is not a file';
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return 'key file is not a JSON credentials file (it does not parse as JSON; content not shown)';
  }
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { type?: unknown }).type !== 'string') {
    return 'key file is not a JSON credentials file (no "type" field, e.g. "service_account"; content not shown)';
  }
  return null;
}

/** The parsed values of gcpFields. */
export interface GcpConfig {
  GCP_PROJECT: string;
  BQ_DATASET: string;
  BQ_LOCATION: string;
  BQ_CHANGES_TABLE: string;
  BQ_CURRENT_TABLE: string;
  GCS_BUCKET?: string | undefined;
  GCS_ENDPOINT?: string | undefined;
  BIGQUERY_ENDPOINT?: string | undefined;
  GOOGLE_APPLICATION_CREDENTIALS?: string | undefined;
}
