import { analysisToolSettings } from '@cdc/analysis-tool';
import { checkKafkaSecurity, commonSettings, fields, kafkaSettings, setting, settingsSchema } from '@cdc/core';
import { gcpSettings } from '@cdc/core/gcp';
import { z } from 'zod';

/** `name=http://host:port`: a service whose /metrics and /readyz the console reads. */
const watchedService = z.string().regex(/^[a-z][a-z0-9-]*=https?:\/\/[^\s,]+$/, 'each entry must be name=http://host:port');

/** The console's own variables. */
export const consoleSettings = {
  HTTP_PORT: setting.port({
    default: 8084,
    description: "the console's HTTP port: its page (/), its data (/api/state) and its own /healthz /readyz /metrics; docker compose publishes it on BIND_ADDRESS",
    envFileName: 'CONSOLE_HTTP_PORT',
  }),
  HTTP_BIND_ADDRESS: setting.text({
    default: '127.0.0.1',
    check: fields.bindAddress,
    values: 'IPv4 address',
    description: 'address the console listens on: the loopback outside containers (the page shows the pipeline to whoever reaches it); the image sets 0.0.0.0, its port published on BIND_ADDRESS',
    envFileName: null,
  }),
  CONSOLE_SERVICES: setting.list({
    default: 'cdc=http://127.0.0.1:8081,processor=http://127.0.0.1:8082,loader=http://127.0.0.1:8083',
    item: watchedService,
    values: 'name=url,...',
    description: "the services whose /metrics and /readyz the console reads, server-side (compose and scripts/stack.sh set them; set it only to run the console by hand)",
  }),
  CONSOLE_KAFKA_GROUPS: setting.list({
    default: 'processor,loader',
    item: z.string().min(1),
    values: 'group,...',
    description: "consumer groups whose lag the console reads from Kafka's committed offsets (the admin API), whether their service runs or not: PROCESSOR_GROUP_ID and LOADER_GROUP_ID",
  }),
  CONSOLE_POLL_INTERVAL_MS: setting.durationMs({
    default: 5000,
    min: 250,
    description: 'how often the console reads the services; its graphs keep the last hour of these readings',
  }),
  CONSOLE_QUERY_TIMEOUT_MS: setting.durationMs({
    default: 30000,
    min: 1000,
    description:
      "how long a query of the console's query box may take, from the request to the last row (also the job's timeout at BigQuery); then it is cancelled and the page says so. Every query is capped at ANALYSIS_MAX_BYTES_BILLED bytes billed",
  }),
  CONSOLE_QUERY_MAX_ROWS: setting.int({
    default: 500,
    min: 1,
    max: 10000,
    unit: 'rows',
    description: "rows of a query's result the console's query box shows at most (the page says when there were more)",
  }),
};

// The query box reads BigQuery as the analysis tool does: its BigQuery settings (Cloud Storage is no business of the
// console's) and its cap on bytes billed.
const { GOOGLE_APPLICATION_CREDENTIALS, GCP_PROJECT, BQ_DATASET, BQ_LOCATION, BQ_CHANGES_TABLE, BQ_CURRENT_TABLE, BIGQUERY_ENDPOINT } = gcpSettings;
const bigQuerySettings = { GOOGLE_APPLICATION_CREDENTIALS, GCP_PROJECT, BQ_DATASET, BQ_LOCATION, BQ_CHANGES_TABLE, BQ_CURRENT_TABLE, BIGQUERY_ENDPOINT };

export const consoleConfigSchema = settingsSchema({
  ...consoleSettings,
  ...kafkaSettings,
  ...commonSettings,
  ...bigQuerySettings,
  ANALYSIS_MAX_BYTES_BILLED: analysisToolSettings.ANALYSIS_MAX_BYTES_BILLED,
}).superRefine((config, ctx) => checkKafkaSecurity(config as Parameters<typeof checkKafkaSecurity>[0], ctx));
export type ConsoleConfig = z.output<typeof consoleConfigSchema>;

/** The watched services of CONSOLE_SERVICES, in their order. */
export function watchedServices(entries: readonly string[]): { name: string; url: string }[] {
  return entries.map((entry) => {
    const at = entry.indexOf('=');
    return { name: entry.slice(0, at), url: entry.slice(at + 1).replace(/\/+$/, '') };
  });
}
