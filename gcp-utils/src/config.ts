import { settingsSchema } from '@cdc/core';
import { gcpSettings } from '@cdc/core/gcp';

/** gcp-utils reads the Google Cloud variables the loader uses, nothing else. */
export const gcpSetupConfigSchema = settingsSchema(gcpSettings);
