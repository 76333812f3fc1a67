import { existsSync, readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { setting, type SettingsSchema } from '../config/settings.js';

const endpoint = z.string().regex(/^https?:\/\/[^\s/]+(\/.*)?$/, 'must be an http(s) URL');
/**
 * BigQuery dataset names (BigQuery's rule: letters, digits, underscores, at most 1024) and our table names (BigQuery
 * also allows other Unicode letters, dashes and spaces in tables; ours keep to the dataset rule, so every name is
 * safe between backticks in the SQL the loader and the setup write).
 */
export const bigQueryName = z.string().regex(/^[A-Za-z0-9_]{1,1024}$/, 'must be 1 to 1024 letters, digits and underscores');

/**
 * Google Cloud project IDs: 6 to 30 lower-case letters, digits and hyphens, starting with a letter, not ending with a
 * hyphen; the older domain-scoped form is example.com:my-project. The project reaches SQL (table references) and
 * bucket names.
 */
export const gcpProjectId = z
  .string()
  .regex(
    /^([a-z0-9][a-z0-9.-]{0,61}[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/,
    'must be a Google Cloud project ID: 6 to 30 lower-case letters, digits and hyphens, starting with a letter, not ending with a hyphen',
  );

/**
 * Why `name` is not a Cloud Storage bucket name by Google's naming rules (cloud.google.com/storage/docs/buckets),
 * or null: lower-case letters, digits, -, _ and .; starts and ends with a letter or digit; 3 to 63 characters, or up
 * to 222 with dots, each dot-separated part at most 63; not an IP address; not starting with "goog", not containing
 * "google".
 */
export function bucketNameProblem(name: string): string | null {
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(name)) return 'must be lower-case letters, digits, -, _ and ., starting and ending with a letter or digit';
  const parts = name.split('.');
  if (name.length < 3 || name.length > (parts.length > 1 ? 222 : 63)) return 'must be 3 to 63 characters long (up to 222 with dots)';
  if (parts.some((part) => part.length === 0 || part.length > 63)) return 'each dot-separated part must be 1 to 63 characters long';
  if (/^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'must not be an IP address';
  if (name.startsWith('goog') || name.includes('google')) return 'must not start with "goog" nor contain "google"';
  return null;
}

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
  GCP_PROJECT: setting.text({ default: 'local-project', check: gcpProjectId, description: 'Google Cloud project (with the emulators: their project, local-project)' }),
  BQ_DATASET: setting.text({ default: 'cdc', check: bigQueryName, description: 'BigQuery dataset of the tables and views' }),
  BQ_LOCATION: setting.text({ default: 'US', description: 'location of the dataset and the bucket, where jobs run' }),
  BQ_CHANGES_TABLE: setting.text({ default: 'orders_changes', check: bigQueryName, description: 'table of every change event, append-only' }),
  BQ_CURRENT_TABLE: setting.text({ default: 'orders_current', check: bigQueryName, description: 'table of one row per live document, kept by MERGE' }),
  GCS_BUCKET: setting.text({
    example: '{project}-cdc-staging',
    values: 'bucket name',
    description:
      'staging bucket for the Parquet files, {project} replaced by GCP_PROJECT (bucket names are global: name it after the project). Used only when it belongs to our project (GCP_PROJECT_NUMBER), else the loader and gcp-utils refuse to start. Unset: the loader loads files straight from the local disk',
  }),
  GCP_PROJECT_NUMBER: setting.text({
    check: z.string().regex(/^\d+$/, 'must be digits'),
    values: 'digits',
    description:
      "our project's number, which the staging bucket's owner must equal. Unset: asked of the Cloud Resource Manager API (permission resourcemanager.projects.get on the project); with GCS_ENDPOINT set, 0, the number the emulator reports for every bucket",
  }),
  GCS_STAGING_MAX_AGE_DAYS: setting.int({
    default: 7,
    min: 0,
    unit: 'days',
    description:
      'lifecycle rule of the staging bucket when the loader or gcp-utils creates it: objects older than this are deleted (a safety net: the loader deletes the objects of each group once both tables have it); 0: no rule',
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

/**
 * The checks of gcpSettings that need two of them: the staging bucket's name, `{project}` replaced, by Cloud
 * Storage's naming rules. Every schema holding gcpSettings applies it, so a bad name fails at start naming GCS_BUCKET.
 */
export function withGcpNameChecks<S extends z.ZodType<Pick<GcpConfig, 'GCS_BUCKET' | 'GCP_PROJECT'>>>(schema: S): S {
  return schema.superRefine((config, ctx) => {
    const bucket = stagingBucketName(config);
    const problem = bucket === undefined ? null : bucketNameProblem(bucket);
    if (problem) ctx.addIssue({ code: 'custom', path: ['GCS_BUCKET'], message: `${bucket}: ${problem}` });
  }) as unknown as S;
}

/** The staging bucket's name, `{project}` replaced by the project; undefined when none is configured. */
export function stagingBucketName(config: Pick<GcpConfig, 'GCS_BUCKET' | 'GCP_PROJECT'>): string | undefined {
  return config.GCS_BUCKET?.replaceAll('{project}', config.GCP_PROJECT);
}
