import { setting, settingsSchema } from '@cdc/core';
import { gcpSettings } from '@cdc/core/gcp';

/** The analysis tool's own variable (it reads the Google Cloud ones of the loader too). */
export const analysisToolSettings = {
  BIGQUERY_PORT: setting.port({
    default: 9050,
    readBy: 'docker compose',
    description:
      "port of the BigQuery emulator on this host (docker compose publishes it on BIND_ADDRESS; for scripts/stack.sh and scripts/infra.sh it comes from the environment instead); the analysis tool's endpoint when neither --endpoint, --gcp nor BIGQUERY_ENDPOINT is given",
  }),
};

export const analysisConfigSchema = settingsSchema({ ...gcpSettings, ...analysisToolSettings });
