import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { setting, settingsSchema, type SettingsSchema } from '../config/settings.js';
import { googleOAuthBearerProvider, type OAuthBearerProvider } from './google-oauthbearer.js';

export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

/** How the client authenticates and encrypts; made from the config by `kafkaSecurityOf`. */
export interface KafkaSecurity {
  protocol: SecurityProtocol;
  sasl?:
    | { mechanism: Exclude<SaslMechanism, 'OAUTHBEARER'>; username: string; password: string }
    | { mechanism: 'OAUTHBEARER'; tokenProvider: OAuthBearerProvider };
  /** PEM files (librdkafka ssl.ca.location, ssl.certificate.location, ssl.key.location) */
  caLocation?: string;
  certificateLocation?: string;
  keyLocation?: string;
}

/** Variables of the connection's security; part of `kafkaSettings`. */
export const kafkaSecuritySettings = {
  KAFKA_SECURITY_PROTOCOL: setting.oneOf(SECURITY_PROTOCOLS, {
    default: 'PLAINTEXT',
    description: 'how the services connect to Kafka (scripts/stack.sh leaves the KAFKA_SECURITY_*, KAFKA_SASL_*, KAFKA_SSL_* variables out: its broker is PLAINTEXT). Recipes for Google\'s Managed Kafka, Confluent Cloud and SCRAM clusters: README, "Secured Kafka"',
  }),
  KAFKA_SASL_MECHANISM: setting.optionalOneOf(SASL_MECHANISMS, {
    description: 'needs a SASL_* protocol. OAUTHBEARER: a token made from Application Default Credentials (Google\'s Managed Kafka only)',
  }),
  ...setting.valueOrFile('KAFKA_SASL_USERNAME', {
    what: 'the user name',
    description: 'PLAIN and SCRAM: the user name (Confluent Cloud: the API key)',
  }),
  ...setting.valueOrFile('KAFKA_SASL_PASSWORD', {
    what: 'the password',
    secret: true,
    description: 'PLAIN and SCRAM: the password (Confluent Cloud: the API secret)',
  }),
  KAFKA_SSL_CA_LOCATION: setting.file({
    description: 'SSL and SASL_SSL: CA certificates (PEM file) the brokers\' certificates are checked against; empty: the system\'s',
  }),
  KAFKA_SSL_CERTIFICATE_LOCATION: setting.file({
    description: 'mTLS: the client certificate (PEM file), for brokers that authenticate clients by TLS; with KAFKA_SSL_KEY_LOCATION',
  }),
  KAFKA_SSL_KEY_LOCATION: setting.file({
    description: 'mTLS: the unencrypted private key (PEM file) of KAFKA_SSL_CERTIFICATE_LOCATION; both or neither',
  }),
};

type SecurityConfig = z.output<SettingsSchema<typeof kafkaSecuritySettings>>;

/**
 * The rules between the security variables, checked at start (each service's schema ends with
 * `.superRefine(checkKafkaSecurity)`), so a half-made setting names its variable instead of failing at connect.
 */
export function checkKafkaSecurity(config: SecurityConfig, ctx: z.RefinementCtx): void {
  const problem = (variable: keyof SecurityConfig, message: string) => ctx.addIssue({ code: 'custom', path: [variable], message });
  const protocol = config.KAFKA_SECURITY_PROTOCOL;
  const sasl = protocol.startsWith('SASL_');
  const tls = protocol.endsWith('SSL');
  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (sasl && !mechanism) problem('KAFKA_SASL_MECHANISM', `is required when KAFKA_SECURITY_PROTOCOL is ${protocol}`);
  if (!sasl && mechanism) problem('KAFKA_SASL_MECHANISM', `needs KAFKA_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT (it is ${protocol})`);
  for (const name of ['USERNAME', 'PASSWORD'] as const) {
    const direct = `KAFKA_SASL_${name}` as const;
    const file = `KAFKA_SASL_${name}_FILE` as const;
    const given = config[direct] !== undefined || config[file] !== undefined;
    if (config[direct] !== undefined && config[file] !== undefined) problem(file, `set either ${direct} or ${file}, not both`);
    if (!mechanism) {
      if (given) problem(direct, 'is only used with KAFKA_SASL_MECHANISM PLAIN or SCRAM-*');
    } else if (mechanism === 'OAUTHBEARER') {
      if (given) problem(direct, 'is not used with OAUTHBEARER (the token comes from Application Default Credentials)');
    } else if (!given) {
      problem(direct, `is required with KAFKA_SASL_MECHANISM ${mechanism} (or ${file})`);
    }
  }
  for (const file of ['KAFKA_SSL_CA_LOCATION', 'KAFKA_SSL_CERTIFICATE_LOCATION', 'KAFKA_SSL_KEY_LOCATION'] as const) {
    if (!tls && config[file] !== undefined) problem(file, `needs KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL (it is ${protocol})`);
  }
  if ((config.KAFKA_SSL_CERTIFICATE_LOCATION === undefined) !== (config.KAFKA_SSL_KEY_LOCATION === undefined)) {
    problem(config.KAFKA_SSL_KEY_LOCATION === undefined ? 'KAFKA_SSL_KEY_LOCATION' : 'KAFKA_SSL_CERTIFICATE_LOCATION', 'the client certificate and its key go together: set both or neither');
  }
}

/** The security variables alone, for tools that connect as a service does (the tests' clients). */
export const kafkaSecuritySchema = () => settingsSchema(kafkaSecuritySettings).superRefine(checkKafkaSecurity);

/** A secret file's content without the line end editors and `echo` add. */
function readSecretFile(path: string): string {
  return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
}

/** The client's security settings from a checked config; reads the *_FILE secrets (never logged). */
export function kafkaSecurityOf(config: SecurityConfig): KafkaSecurity {
  const security: KafkaSecurity = {
    protocol: config.KAFKA_SECURITY_PROTOCOL,
    caLocation: config.KAFKA_SSL_CA_LOCATION,
    certificateLocation: config.KAFKA_SSL_CERTIFICATE_LOCATION,
    keyLocation: config.KAFKA_SSL_KEY_LOCATION,
  };
  const mechanism = config.KAFKA_SASL_MECHANISM;
  if (mechanism === 'OAUTHBEARER') {
    security.sasl = { mechanism, tokenProvider: googleOAuthBearerProvider() };
  } else if (mechanism) {
    const username = config.KAFKA_SASL_USERNAME ?? readSecretFile(config.KAFKA_SASL_USERNAME_FILE!);
    const password = config.KAFKA_SASL_PASSWORD ?? readSecretFile(config.KAFKA_SASL_PASSWORD_FILE!);
    security.sasl = { mechanism, username, password };
  }
  return security;
}
