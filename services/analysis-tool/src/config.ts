import { setting, settingsSchema } from '@cdc/core';
import { gcpSettings, withGcpNameChecks } from '@cdc/core/gcp';

/** The analysis tool's own variables (it reads the Google Cloud ones of the loader too). */
export const analysisToolSettings = {
  BIGQUERY_PORT: setting.port({
    default: 9050,
    readBy: 'docker compose',
    description:
      "port of the BigQuery emulator on this host (docker compose publishes it on INFRA_BIND_ADDRESS; for scripts/stack.sh and scripts/infra.sh it comes from the environment instead); the analysis tool's endpoint when neither --endpoint, --gcp nor BIGQUERY_ENDPOINT is given",
  }),
  ANALYSIS_MAX_BYTES_BILLED: setting.int({
    default: 10 * 1024 * 1024 * 1024,
    min: 1,
    unit: 'bytes',
    description: "the analysis tool's cap on every query: BigQuery fails a query that would bill more (maximumBytesBilled) instead of running it",
  }),
};

export const analysisConfigSchema = withGcpNameChecks(settingsSchema({ ...gcpSettings, ...analysisToolSettings }));
