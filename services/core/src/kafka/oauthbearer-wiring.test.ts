import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../logging/logger.js';
import { createKafka } from './client.js';
import type { OAuthBearerToken } from './google-oauthbearer.js';

// librdkafka asks for the first OAUTHBEARER token as soon as a client is made, before any broker is reached: the
// provider given to the factory must be what it calls (no broker needed; nothing listens on the port).
test('an OAUTHBEARER client asks the token provider for its token', async () => {
  let calls = 0;
  let asked!: () => void;
  const called = new Promise<void>((resolve) => (asked = resolve));
  const tokenProvider = async (): Promise<OAuthBearerToken> => {
    calls++;
    asked();
    return { value: 'a.b.c', principal: 'sa@p.iam.gserviceaccount.com', lifetime: Date.now() + 3_600_000 };
  };
  const kafka = createKafka({
    brokers: ['127.0.0.1:1'],
    clientId: 'oauthbearer-wiring',
    logger: createLogger({ service: 'test', level: 'silent' }),
    security: { protocol: 'SASL_SSL', sasl: { mechanism: 'OAUTHBEARER', tokenProvider } },
  });
  const admin = kafka.admin();
  await admin.connect();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([called, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the provider was never called')), 10000)))]);
    assert.ok(calls >= 1);
    // the client hands the token to librdkafka after our promise resolves; disconnecting before that makes the
    // client reject a promise nobody holds
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    clearTimeout(timer);
    await admin.disconnect();
  }
});
