import { managedwriter } from '@google-cloud/bigquery-storage';
import { grpc, type ClientOptions } from 'google-gax';
import { OAuth2Client } from 'google-auth-library';
import type { LoaderConfig } from '../config.js';

/**
 * The Storage Write API client: an emulator's plain-text gRPC endpoint without credentials, or Google Cloud with
 * the credentials BigQuery uses (the key file, else Application Default Credentials). Appends are not retried by
 * the client: a failed attempt starts again with a fresh staging table and stream (StorageWriteStaging).
 */
export function storageWriteClient(config: Pick<LoaderConfig, 'GCP_PROJECT' | 'GOOGLE_APPLICATION_CREDENTIALS' | 'LOADER_STORAGE_WRITE_ENDPOINT'>): managedwriter.WriterClient {
  const endpoint = config.LOADER_STORAGE_WRITE_ENDPOINT;
  if (endpoint) {
    const at = endpoint.lastIndexOf(':');
    // A fixed dummy token: without a client the library looks for real credentials (and the metadata server). It
    // is typed by the client's own (older) google-auth-library, which has the same OAuth2Client.
    const authClient = new OAuth2Client();
    authClient.setCredentials({ access_token: 'emulator' });
    return new managedwriter.WriterClient({
      authClient: authClient as unknown as ClientOptions['authClient'],
      projectId: config.GCP_PROJECT,
      servicePath: endpoint.slice(0, at),
      port: Number(endpoint.slice(at + 1)),
      sslCreds: grpc.credentials.createInsecure(),
    });
  }
  return new managedwriter.WriterClient({ projectId: config.GCP_PROJECT, ...(config.GOOGLE_APPLICATION_CREDENTIALS ? { keyFilename: config.GOOGLE_APPLICATION_CREDENTIALS } : {}) });
}
