// Endpoints of the local infrastructure started by scripts/infra.sh (same variables, same defaults).
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const host = '127.0.0.1';
// compiled to test/dist/support/
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export const infra = {
  kafkaBrokers: process.env.KAFKA_BROKERS ?? `${host}:${process.env.KAFKA_PORT ?? '9092'}`,
  mongoUri: process.env.MONGO_URI ?? `mongodb://${host}:${process.env.MONGO_PORT ?? '27017'}/?directConnection=true`,
  gcsEndpoint: process.env.GCS_ENDPOINT ?? `http://${host}:${process.env.GCS_PORT ?? '4443'}`,
  bigqueryEndpoint: process.env.BIGQUERY_ENDPOINT ?? `http://${host}:${process.env.BIGQUERY_PORT ?? '9050'}`,
  bigqueryProject: process.env.BIGQUERY_PROJECT ?? 'local-project',
  /** the emulator's gRPC Storage Read/Write API (host:port) */
  bigqueryGrpcEndpoint: `${host}:${process.env.BIGQUERY_GRPC_PORT ?? '9060'}`,
  /** the broker's optional SASL_SSL listener (scripts/infra/kafka.sh, KAFKA_SASL_SSL_PORT) and the CA it was made with */
  kafkaSaslSslBrokers: `${host}:${process.env.KAFKA_SASL_SSL_PORT ?? '9094'}`,
  kafkaCaFile: join(process.env.CDC_RUN_DIR ?? join(root, '.run'), 'kafka', 'tls', 'ca.pem'),
};

/** Names unique to one test run, so tests sharing the broker and servers never see each other's data. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}
