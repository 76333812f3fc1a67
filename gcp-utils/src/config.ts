import { settingsSchema } from '@cdc/core';
import { gcpSettings, withGcpNameChecks } from '@cdc/core/gcp';

/** gcp-utils reads the Google Cloud variables the loader uses, nothing else. */
export const gcpSetupConfigSchema = withGcpNameChecks(settingsSchema(gcpSettings));
