// SASL/OAUTHBEARER for Google Cloud's Managed Service for Apache Kafka, made in-process from Application Default
// Credentials. Google's brokers take a JWT-shaped token whose "signature" is a Google OAuth2 access token: the
// form of Google's login handlers for Java (GcpLoginCallbackHandler) and non-Java clients.

/** What the Confluent client's `sasl.oauthBearerProvider` returns; `lifetime` is the expiry, ms since the epoch. */
export interface OAuthBearerToken {
  value: string;
  principal: string;
  lifetime: number;
}

export type OAuthBearerProvider = (oauthbearerConfig?: string) => Promise<OAuthBearerToken>;

/** The credential the token is made from (Application Default Credentials; a fake in tests). */
export interface GoogleCredentialSource {
  /** a valid access token (cached by the source, renewed by it before expiry) and when it expires */
  accessToken(): Promise<{ token: string; expiresAtMs: number }>;
  /** the service account the token belongs to: the Kafka principal */
  email(): Promise<string>;
}

const HEADER = { typ: 'JWT', alg: 'GOOG_OAUTH2_TOKEN' };
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

/** The token in Google's documented form: base64url(header).base64url(claims).base64url(access token). */
export function googleKafkaToken(access: { token: string; expiresAtMs: number }, email: string, nowMs: number): OAuthBearerToken {
  const claims = {
    exp: Math.floor(access.expiresAtMs / 1000),
    iat: Math.floor(nowMs / 1000),
    iss: 'Google',
    scope: 'kafka',
    sub: email,
  };
  return {
    value: [base64url(JSON.stringify(HEADER)), base64url(JSON.stringify(claims)), base64url(access.token)].join('.'),
    principal: email,
    lifetime: access.expiresAtMs,
  };
}

/**
 * librdkafka calls the provider at start and again at 80% of the previous token's lifetime; each call asks the
 * source, which hands out its cached access token until it nears expiry (google-auth-library renews it within
 * its last 5 minutes), so a refresh never returns a token about to lapse.
 */
export function googleOAuthBearerProvider(source: GoogleCredentialSource = applicationDefaultCredentials(), now: () => number = Date.now): OAuthBearerProvider {
  return async () => {
    const [access, email] = await Promise.all([source.accessToken(), source.email()]);
    return googleKafkaToken(access, email, now());
  };
}

/** Application Default Credentials (key file, metadata server, workload identity) through google-auth-library. */
function applicationDefaultCredentials(): GoogleCredentialSource {
  // loaded on first use: services on other mechanisms never load the library
  const auth = import('google-auth-library').then(({ GoogleAuth }) => new GoogleAuth({ scopes: [CLOUD_PLATFORM_SCOPE] }));
  let email: Promise<string> | undefined;
  return {
    async accessToken() {
      const client = await (await auth).getClient();
      const { token } = await client.getAccessToken();
      const expiresAtMs = client.credentials.expiry_date;
      if (!token || !expiresAtMs) throw new Error('Application Default Credentials gave no access token with an expiry');
      return { token, expiresAtMs };
    },
    email() {
      // asked once; a failure (metadata server not up yet) is asked again at the next refresh
      email ??= auth
        .then((a) => a.getCredentials())
        .then(({ client_email }) => {
          if (!client_email) {
            throw new Error('Application Default Credentials name no service account (user credentials cannot authenticate to Managed Kafka): use a service account');
          }
          return client_email;
        })
        .catch((error: unknown) => {
          email = undefined;
          throw error;
        });
      return email;
    },
  };
}
