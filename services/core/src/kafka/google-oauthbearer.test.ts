import { test } from 'node:test';
import assert from 'node:assert/strict';
import { googleKafkaToken, googleOAuthBearerProvider, type GoogleCredentialSource } from './google-oauthbearer.js';

const decode = (part: string) => Buffer.from(part, 'base64url').toString('utf8');

test('the token has Google\'s documented form: header, claims, the access token as signature', () => {
  const expiresAtMs = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
  const nowMs = expiresAtMs - 3_599_000;
  const token = googleKafkaToken({ token: 'ya29.access-token', expiresAtMs }, 'cdc@project.iam.gserviceaccount.com', nowMs);
  const parts = token.value.split('.');
  assert.equal(parts.length, 3);
  for (const part of parts) assert.match(part, /^[A-Za-z0-9_-]+$/, 'base64url without padding');
  assert.deepEqual(JSON.parse(decode(parts[0]!)), { typ: 'JWT', alg: 'GOOG_OAUTH2_TOKEN' });
  assert.deepEqual(JSON.parse(decode(parts[1]!)), {
    exp: Math.floor(expiresAtMs / 1000),
    iat: Math.floor(nowMs / 1000),
    iss: 'Google',
    scope: 'kafka',
    sub: 'cdc@project.iam.gserviceaccount.com',
  });
  assert.equal(decode(parts[2]!), 'ya29.access-token');
  assert.equal(token.principal, 'cdc@project.iam.gserviceaccount.com');
  assert.equal(token.lifetime, expiresAtMs, 'librdkafka takes the expiry in ms since the epoch');
});

/** A credential that hands out a new access token on every call, one hour long. */
function fakeCredential(email: string | Error): GoogleCredentialSource & { calls: number } {
  const source = {
    calls: 0,
    async accessToken() {
      source.calls++;
      return { token: `token-${source.calls}`, expiresAtMs: 1_000_000 + source.calls * 3_600_000 };
    },
    async email() {
      if (email instanceof Error) throw email;
      return email;
    },
  };
  return source;
}

test('each refresh asks the credential again and carries its new expiry', async () => {
  const credential = fakeCredential('sa@p.iam.gserviceaccount.com');
  const provider = googleOAuthBearerProvider(credential, () => 1_000_000);
  const first = await provider();
  const second = await provider();
  assert.equal(credential.calls, 2);
  assert.equal(decode(first.value.split('.')[2]!), 'token-1');
  assert.equal(decode(second.value.split('.')[2]!), 'token-2');
  assert.equal(second.lifetime, 1_000_000 + 2 * 3_600_000);
  assert.equal(JSON.parse(decode(second.value.split('.')[1]!)).exp, Math.floor((1_000_000 + 2 * 3_600_000) / 1000));
});

test('a credential without a service account fails the refresh with its reason', async () => {
  const provider = googleOAuthBearerProvider(fakeCredential(new Error('no service account')));
  await assert.rejects(provider(), /no service account/);
});
