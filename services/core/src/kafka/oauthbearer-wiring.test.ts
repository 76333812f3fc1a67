import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../logging/logger.js';
import { createKafka } from './client.js';
import type { OAuthBearerProvider } from './google-oauthbearer.js';

// librdkafka asks for the first OAUTHBEARER token as soon as a client is made, before any broker is reached: the
// provider given to the factory must be what it calls (no broker needed; nothing listens on the port).

/** Makes an OAUTHBEARER client with `tokenProvider`, runs `check` while its admin is connected. */
async function withOAuthBearerClient(tokenProvider: OAuthBearerProvider, check: () => Promise<void>, onAccessFailure?: (error: Error) => void) {
  const kafka = createKafka({
    brokers: ['127.0.0.1:1'],
    clientId: 'oauthbearer-wiring',
    logger: createLogger({ service: 'test', level: 'silent' }),
    security: { protocol: 'SASL_SSL', sasl: { mechanism: 'OAUTHBEARER', tokenProvider } },
    onAccessFailure,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    await check();
    // the client hands the token to librdkafka after the provider's promise settles; disconnecting before that
    // makes the client reject a promise nobody holds
    await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    await admin.disconnect();
  }
}

/** `promise`, or a failure naming `what` after 10 s. */
async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} within 10 s`)), 10000)))]);
  } finally {
    clearTimeout(timer);
  }
}

test('an OAUTHBEARER client asks the token provider for its token', async () => {
  let asked!: () => void;
  const called = new Promise<void>((resolve) => (asked = resolve));
  const provider: OAuthBearerProvider = async () => {
    asked();
    return { value: 'a.b.c', principal: 'sa@p.iam.gserviceaccount.com', lifetime: Date.now() + 3_600_000 };
  };
  await withOAuthBearerClient(provider, () => within(called, 'the provider was not called'));
});

test('a token the provider cannot make is reported as an access failure, with its reason', async () => {
  let report!: (error: Error) => void;
  const reported = new Promise<Error>((resolve) => (report = resolve));
  const provider: OAuthBearerProvider = async () => {
    throw new Error('Application Default Credentials name no service account');
  };
  await withOAuthBearerClient(
    provider,
    async () => {
      const error = await within(reported, 'no access failure was reported');
      assert.match(error.message, /no OAUTHBEARER token could be made: check the Application Default Credentials/);
      assert.match(error.message, /name no service account/);
    },
    report,
  );
});
