import { BigQuery } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { OAuth2Client } from 'google-auth-library';
import { ServiceError } from '../errors/errors.js';
import { gcpErrorInfo, isTransientGcpError } from './errors.js';
import type { GcpConfig } from './settings.js';

export interface GcpClients {
  bigquery: BigQuery;
  storage: Storage;
  projectId: string;
  location: string;
  /** how each client authenticates, for logs (never a credential) */
  auth: { bigquery: string; storage: string };
  /** our project's number, which owns the staging bucket (asked once, when first needed) */
  projectNumber(): Promise<string>;
}

/** The number fake-gcs-server reports as the owner of every bucket. */
const EMULATOR_PROJECT_NUMBER = '0';

/** Our project's number: configured, the emulator's, or asked of Cloud Resource Manager with the storage client's credentials. */
export function projectNumberOf(config: GcpConfig, storage: Pick<Storage, 'authClient'>): () => Promise<string> {
  let answer: Promise<string> | null = null;
  const ask = async (): Promise<string> => {
    if (config.GCP_PROJECT_NUMBER) return config.GCP_PROJECT_NUMBER;
    if (config.GCS_ENDPOINT) return EMULATOR_PROJECT_NUMBER;
    const url = `https://cloudresourcemanager.googleapis.com/v1/projects/${encodeURIComponent(config.GCP_PROJECT)}`;
    // Its own error, so that a refusal here is not taken for Cloud Storage refusing the bucket.
    const unknown = (why: string, cause?: unknown) =>
      new ServiceError(`cannot learn the number of project ${config.GCP_PROJECT} from Cloud Resource Manager (${why}): grant resourcemanager.projects.get or set GCP_PROJECT_NUMBER`, {
        reason: 'project_number_unknown',
        retriable: cause !== undefined && isTransientGcpError(cause),
        cause,
      });
    let data: { projectNumber?: string };
    try {
      ({ data } = await storage.authClient.request<{ projectNumber?: string }>({ url }));
    } catch (error) {
      const info = gcpErrorInfo(error);
      throw unknown(`${info.status ? `HTTP ${info.status} ` : ''}${info.message}`, error);
    }
    if (!data.projectNumber) throw unknown('no projectNumber in its answer');
    return data.projectNumber;
  };
  return () => {
    answer ??= ask().catch((error: unknown) => {
      answer = null;
      throw error;
    });
    return answer;
  };
}

function credentialsOf(config: Pick<GcpConfig, 'GOOGLE_APPLICATION_CREDENTIALS'>, emulator: boolean): { options: { keyFilename?: string }; description: string } {
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

/** The Cloud Storage client alone (the processor writing to a bucket needs no BigQuery). */
export function createStorageClient(config: Pick<GcpConfig, 'GCP_PROJECT' | 'GCS_ENDPOINT' | 'GOOGLE_APPLICATION_CREDENTIALS'>): Storage {
  // A custom endpoint makes the storage client skip authentication.
  const emulator = Boolean(config.GCS_ENDPOINT);
  return new Storage({ projectId: config.GCP_PROJECT, ...(emulator ? { apiEndpoint: config.GCS_ENDPOINT } : credentialsOf(config, emulator).options) });
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
  const storage = createStorageClient(config);
  return {
    bigquery,
    storage,
    projectId,
    location: config.BQ_LOCATION,
    auth: { bigquery: bqAuth.description, storage: gcsAuth.description },
    projectNumber: projectNumberOf(config, storage),
  };
}
