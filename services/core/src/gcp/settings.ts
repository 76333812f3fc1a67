import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { setting, type SettingsSchema } from '../config/settings.js';

const endpoint = z.string().regex(/^https?:\/\/[^\s/]+(\/.*)?$/, 'must be an http(s) URL');
/** BigQuery dataset and table names: letters, digits, underscores. */
export const bigQueryName = z.string().regex(/^[A-Za-z0-9_]{1,1024}$/, 'must be letters, digits and underscores');

/** A key file checked to exist and to be a JSON credentials file (else the client libraries fail later with a misleading network or auth error). */
const credentialsFile = z.string().superRefine((path, ctx) => {
  const problem = credentialsFileProblem(path);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/**
 * Google Cloud variables shared by the loader, gcp-utils and the analysis tool. An endpoint set means "emulator":
 * that client talks to it without credentials. Unset endpoints mean real Google Cloud, authenticated by the key
 * file in GOOGLE_APPLICATION_CREDENTIALS or else Application Default Credentials.
 */
export const gcpSettings = {
  GOOGLE_APPLICATION_CREDENTIALS: setting.text({
    check: credentialsFile,
    values: 'file path',
    description:
      'path of a service-account key file (deploy.sh: on this host, mounted read-only into the containers); checked at start to be a JSON credentials file, its content never logged nor put in an error message. Unset: Application Default Credentials',
  }),
  GCP_PROJECT: setting.text({ default: 'local-project', description: 'Google Cloud project (with the emulators: their project, local-project)' }),
  BQ_DATASET: setting.text({ default: 'cdc', check: bigQueryName, description: 'BigQuery dataset of the tables and views' }),
  BQ_LOCATION: setting.text({ default: 'US', description: 'location of the dataset and the bucket, where jobs run' }),
  BQ_CHANGES_TABLE: setting.text({ default: 'orders_changes', check: bigQueryName, description: 'table of every change event, append-only' }),
  BQ_CURRENT_TABLE: setting.text({ default: 'orders_current', check: bigQueryName, description: 'table of one row per live document, kept by MERGE' }),
  GCS_BUCKET: setting.text({
    example: 'cdc-staging',
    description: 'staging bucket for the Parquet files; unset: the loader loads files straight from the local disk',
  }),
  GCS_ENDPOINT: setting.text({
    check: endpoint,
    values: 'http(s) URL',
    description: 'Cloud Storage emulator endpoint; unset: Google Cloud. deploy.sh and stack.sh set it for their emulators: set it in .env only to use another emulator',
  }),
  BIGQUERY_ENDPOINT: setting.text({
    check: endpoint,
    values: 'http(s) URL',
    description: 'BigQuery emulator endpoint; unset: Google Cloud. deploy.sh and stack.sh set it for their emulators: set it in .env only to use another emulator',
  }),
};

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

/** The parsed values of gcpSettings. */
export type GcpConfig = z.output<SettingsSchema<typeof gcpSettings>>;
