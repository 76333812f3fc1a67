import { managedwriter } from '@google-cloud/bigquery-storage';
import { grpc } from 'google-gax';
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
    return new managedwriter.WriterClient({
      projectId: config.GCP_PROJECT,
      servicePath: endpoint.slice(0, at),
      port: Number(endpoint.slice(at + 1)),
      sslCreds: grpc.credentials.createInsecure(),
    });
  }
  return new managedwriter.WriterClient({ projectId: config.GCP_PROJECT, ...(config.GOOGLE_APPLICATION_CREDENTIALS ? { keyFilename: config.GOOGLE_APPLICATION_CREDENTIALS } : {}) });
}
