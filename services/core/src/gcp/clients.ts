import { BigQuery } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { OAuth2Client } from 'google-auth-library';
import type { GcpConfig } from './settings.js';

export interface GcpClients {
  bigquery: BigQuery;
  storage: Storage;
  projectId: string;
  location: string;
  /** how each client authenticates, for logs (never a credential) */
  auth: { bigquery: string; storage: string };
}

function credentialsOf(config: GcpConfig, emulator: boolean): { options: { keyFilename?: string }; description: string } {
  if (emulator) return { options: {}, description: 'emulator (no credentials)' };
  if (config.GOOGLE_APPLICATION_CREDENTIALS) {
    return { options: { keyFilename: config.GOOGLE_APPLICATION_CREDENTIALS }, description: `service-account key file ${config.GOOGLE_APPLICATION_CREDENTIALS}` };
  }
  return { options: {}, description: 'application default credentials' };
}

/** A fixed dummy token: against an emulator endpoint the BigQuery client would otherwise look for real credentials. */
function emulatorAuthClient(): OAuth2Client {
  const client = new OAuth2Client();
  client.setCredentials({ access_token: 'emulator' });
  return client;
}

/**
 * The one place Google Cloud clients are made (loader, gcp-utils, analysis tool). Same code for the emulators
 * (an endpoint is set) and for Google Cloud (no endpoint: key file or Application Default Credentials).
 */
export function createGcpClients(config: GcpConfig): GcpClients {
  const projectId = config.GCP_PROJECT;
  const bqEmulator = Boolean(config.BIGQUERY_ENDPOINT);
  const gcsEmulator = Boolean(config.GCS_ENDPOINT);
  const bqAuth = credentialsOf(config, bqEmulator);
  const gcsAuth = credentialsOf(config, gcsEmulator);
  const bigquery = new BigQuery({
    projectId,
    location: config.BQ_LOCATION,
    ...(bqEmulator ? { apiEndpoint: config.BIGQUERY_ENDPOINT, authClient: emulatorAuthClient() } : bqAuth.options),
  });
  // A custom endpoint makes the storage client skip authentication.
  const storage = new Storage({ projectId, ...(gcsEmulator ? { apiEndpoint: config.GCS_ENDPOINT } : gcsAuth.options) });
  return { bigquery, storage, projectId, location: config.BQ_LOCATION, auth: { bigquery: bqAuth.description, storage: gcsAuth.description } };
}
