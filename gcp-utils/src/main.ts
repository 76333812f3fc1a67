#!/usr/bin/env node
// npm run gcp:setup: the Cloud Storage bucket, the BigQuery dataset and tables of the pipeline, idempotently.
// Reads .env; against the emulators when GCS_ENDPOINT / BIGQUERY_ENDPOINT are set, else Google Cloud with the key
// file in GOOGLE_APPLICATION_CREDENTIALS or Application Default Credentials.
import { loadConfig } from '@cdc/core';
import { gcpErrorInfo, isMissingCredentials } from '@cdc/core/gcp';
import { gcpSetupConfigSchema } from './config.js';
import { runSetup } from './setup.js';

const config = loadConfig(gcpSetupConfigSchema);
try {
  const result = await runSetup(config);
  for (const line of result.lines) process.stdout.write(`${line}\n`);
  process.exit(result.problems.length > 0 ? 1 : 0);
} catch (error) {
  const info = gcpErrorInfo(error);
  let hint = '';
  if (isMissingCredentials(error)) {
    hint = '\n  no credentials: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run `gcloud auth application-default login`';
  } else if (info.errno === 'ECONNREFUSED') {
    hint = '\n  nothing answers at the endpoint: start the emulators with `npm run infra:up` (or unset the *_ENDPOINT variables for Google Cloud)';
  }
  process.stderr.write(`gcp setup failed: ${info.status ? `HTTP ${info.status} ` : ''}${info.message}${hint}\n`);
  process.exit(1);
}
