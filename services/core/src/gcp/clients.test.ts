import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Storage } from '@google-cloud/storage';
import { createGcpClients, projectNumberOf } from './clients.js';
import { classifyGcpError } from './errors.js';
import type { GcpConfig } from './settings.js';

const base: GcpConfig = { GCP_PROJECT: 'p', BQ_DATASET: 'cdc', BQ_LOCATION: 'US', BQ_CHANGES_TABLE: 'c', BQ_CURRENT_TABLE: 'k', GCS_STAGING_MAX_AGE_DAYS: 7 };

test("our project's number: the configured one first, else the emulator's 0, without asking any server", async () => {
  assert.equal(await createGcpClients({ ...base, GCP_PROJECT_NUMBER: '123456789012', GCS_ENDPOINT: 'http://127.0.0.1:1' }).projectNumber(), '123456789012');
  assert.equal(await createGcpClients({ ...base, GCS_ENDPOINT: 'http://127.0.0.1:1' }).projectNumber(), '0');
});

test('on Google Cloud the number is asked of Cloud Resource Manager once; a refusal there is its own error, not a bucket refusal', async () => {
  const asked: string[] = [];
  const answering = (answer: () => Promise<{ data: { projectNumber?: string } }>) => ({ authClient: { request: async ({ url }: { url: string }) => (asked.push(url), answer()) } }) as unknown as Storage;
  const lookup = projectNumberOf(base, answering(async () => ({ data: { projectNumber: '42' } })));
  assert.equal(await lookup(), '42');
  assert.equal(await lookup(), '42');
  assert.deepEqual(asked, ['https://cloudresourcemanager.googleapis.com/v1/projects/p']);

  const denied = projectNumberOf(base, answering(async () => Promise.reject(Object.assign(new Error('Permission denied on resource project p'), { code: 403 }))));
  const error = await denied().then(() => null, (e: Error) => e);
  assert.match(error?.message ?? '', /cannot learn the number of project p from Cloud Resource Manager \(HTTP 403 Permission denied.*set GCP_PROJECT_NUMBER/);
  assert.equal(classifyGcpError(error).status, null, 'no HTTP status: not mistaken for Cloud Storage refusing the bucket');
  assert.equal(classifyGcpError(error).fault, 'rejected', 'a permission refusal is not retried at start');
});
