import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createGcpClients } from './clients.js';
import type { GcpConfig } from './settings.js';

const base: GcpConfig = { GCP_PROJECT: 'p', BQ_DATASET: 'cdc', BQ_LOCATION: 'US', BQ_CHANGES_TABLE: 'c', BQ_CURRENT_TABLE: 'k', GCS_STAGING_MAX_AGE_DAYS: 7 };

test("our project's number: the configured one first, else the emulator's 0, without asking any server", async () => {
  assert.equal(await createGcpClients({ ...base, GCP_PROJECT_NUMBER: '123456789012', GCS_ENDPOINT: 'http://127.0.0.1:1' }).projectNumber(), '123456789012');
  assert.equal(await createGcpClients({ ...base, GCS_ENDPOINT: 'http://127.0.0.1:1' }).projectNumber(), '0');
});
