import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, describeConfig, parseConfig } from '../config/load-config.js';
import { kafkaSettings, kafkaSettingsOf, perServiceSettings } from '../service/common-settings.js';
import { settingsSchema } from '../config/settings.js';
import { createLogger } from '../logging/logger.js';
import { checkKafkaSecurity } from './security.js';
import { KafkaErrorCodes, kafkaAccessProblem, kafkaLogAccessProblem } from './errors.js';

const schema = settingsSchema({ ...kafkaSettings, ...perServiceSettings('cdc', 8081) }).superRefine(checkKafkaSecurity);
const dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const passwordFile = join(dir, 'password');
const password = 'pa55-from-a-file';
writeFileSync(passwordFile, `${password}\n`);
const emptyFile = join(dir, 'empty');
writeFileSync(emptyFile, '');
const caFile = join(dir, 'ca.pem');
writeFileSync(caFile, '-----BEGIN CERTIFICATE-----\n');
const logger = createLogger({ service: 'test', level: 'silent' });

/** variable -> problem of a config that must not parse */
function problemsOf(env: Record<string, string>): Record<string, string> {
  try {
    parseConfig(schema, { env });
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    return Object.fromEntries(error.problems.map((p) => [p.variable, p.problem]));
  }
  assert.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

test('the default is PLAINTEXT without credentials: the client gets no security settings', () => {
  const config = parseConfig(schema, { env: {} });
  assert.equal(config.KAFKA_SECURITY_PROTOCOL, 'PLAINTEXT');
  const { security } = kafkaSettingsOf(config, logger);
  assert.deepEqual(security, { protocol: 'PLAINTEXT', caLocation: undefined, certificateLocation: undefined, keyLocation: undefined });
});

test('SASL_SSL with SCRAM: the password is read from its file (line end dropped), the CA passed on', () => {
  const config = parseConfig(schema, {
    env: {
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'cdc',
      KAFKA_SASL_PASSWORD_FILE: passwordFile,
      KAFKA_SSL_CA_LOCATION: caFile,
    },
  });
  const { security } = kafkaSettingsOf(config, logger);
  assert.deepEqual(security?.sasl, { mechanism: 'SCRAM-SHA-512', username: 'cdc', password });
  assert.equal(security?.caLocation, caFile);
  assert.equal(security?.protocol, 'SASL_SSL');
});

test('a SASL mechanism without a SASL_* protocol is refused, naming the variable and the protocol', () => {
  const problems = problemsOf({ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' });
  assert.match(problems.KAFKA_SASL_MECHANISM!, /needs KAFKA_SECURITY_PROTOCOL SASL_SSL or SASL_PLAINTEXT \(it is PLAINTEXT\)/);
});

test('SASL_SSL without a mechanism, PLAIN without a password, OAUTHBEARER with a password: each named', () => {
  assert.match(problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL' }).KAFKA_SASL_MECHANISM!, /is required when KAFKA_SECURITY_PROTOCOL is SASL_SSL/);
  const plain = problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'key' });
  assert.deepEqual(Object.keys(plain), ['KAFKA_SASL_PASSWORD']);
  assert.match(plain.KAFKA_SASL_PASSWORD!, /is required with KAFKA_SASL_MECHANISM PLAIN \(or KAFKA_SASL_PASSWORD_FILE\)/);
  const oauth = problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SASL_SSL', KAFKA_SASL_MECHANISM: 'OAUTHBEARER', KAFKA_SASL_PASSWORD: 'x' });
  assert.match(oauth.KAFKA_SASL_PASSWORD!, /not used with OAUTHBEARER/);
});

test('a value and its _FILE twin together, an empty secret file, a missing CA file, a certificate without key', () => {
  const problems = problemsOf({
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_USERNAME_FILE: passwordFile,
    KAFKA_SASL_PASSWORD_FILE: emptyFile,
    KAFKA_SSL_CA_LOCATION: join(dir, 'missing.pem'),
  });
  assert.match(problems.KAFKA_SASL_PASSWORD_FILE!, /file is empty/);
  assert.match(problems.KAFKA_SSL_CA_LOCATION!, /does not exist or cannot be read/);
  // the cross-variable rules are checked once every variable parses on its own
  const both = problemsOf({ KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CERTIFICATE_LOCATION: caFile });
  assert.match(both.KAFKA_SSL_KEY_LOCATION!, /set both or neither/);
  const twins = problemsOf({
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
    KAFKA_SASL_USERNAME: 'u',
    KAFKA_SASL_USERNAME_FILE: passwordFile,
    KAFKA_SASL_PASSWORD: 'p',
  });
  assert.match(twins.KAFKA_SASL_USERNAME_FILE!, /set either KAFKA_SASL_USERNAME or KAFKA_SASL_USERNAME_FILE, not both/);
  assert.match(problemsOf({ KAFKA_SSL_CA_LOCATION: caFile }).KAFKA_SSL_CA_LOCATION!, /needs KAFKA_SECURITY_PROTOCOL SSL or SASL_SSL/);
});

test('the password is never in a config error nor in the printed config', () => {
  const secret = 'hunter2-kafka-secret';
  const env = { KAFKA_SECURITY_PROTOCOL: 'SASL_PLAINTEXT', KAFKA_SASL_MECHANISM: 'SCRAM-SHA-999', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: secret };
  try {
    parseConfig(schema, { env });
    assert.fail('expected a ConfigError');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, /KAFKA_SASL_MECHANISM/);
    assert.doesNotMatch(error.message, new RegExp(secret));
  }
  const config = parseConfig(schema, { env: { ...env, KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256' } });
  const described = describeConfig(schema, config);
  assert.equal(described.KAFKA_SASL_PASSWORD, '***');
  assert.doesNotMatch(JSON.stringify(described), new RegExp(secret));
});

test('refused credentials, TLS and ACL errors are explained by variable; other errors are not', () => {
  assert.match(kafkaAccessProblem({ code: KafkaErrorCodes.ERR__AUTHENTICATION })!, /KAFKA_SASL_PASSWORD/);
  assert.match(kafkaAccessProblem({ code: KafkaErrorCodes.ERR__SSL })!, /KAFKA_SSL_CA_LOCATION/);
  assert.match(kafkaAccessProblem({ code: KafkaErrorCodes.ERR_TOPIC_AUTHORIZATION_FAILED })!, /no ACL/);
  const perTopic = { message: 'Topic creation errors', errors: [{ code: KafkaErrorCodes.ERR_TOPIC_ALREADY_EXISTS }, { code: KafkaErrorCodes.ERR_TOPIC_AUTHORIZATION_FAILED }] };
  assert.match(kafkaAccessProblem(perTopic)!, /no ACL/);
  assert.equal(kafkaAccessProblem({ errors: [{ code: KafkaErrorCodes.ERR__TIMED_OUT }] }), null);
  assert.equal(kafkaAccessProblem({ code: KafkaErrorCodes.ERR__TRANSPORT }), null);
  assert.equal(kafkaAccessProblem(new Error('plain')), null);
});

test('a refused login, TLS handshake, group or a failed token is recognised in the client\'s log lines', () => {
  const sasl = '[thrd:sasl_ssl://127.0.0.1:9094/bootstrap]: sasl_ssl://127.0.0.1:9094/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512 (after 349ms in state AUTH_REQ)';
  assert.match(kafkaLogAccessProblem(sasl)!, /refused the credentials/);
  const tls = 'ssl://127.0.0.1:9094/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed: broker certificate could not be verified';
  assert.match(kafkaLogAccessProblem(tls)!, /KAFKA_SSL_CA_LOCATION/);
  const group = 'Consumer encountered error while consuming. Retrying. Error details: KafkaJSProtocolError: Broker: Group authorization failed';
  assert.match(kafkaLogAccessProblem(group)!, /no ACL/);
  assert.match(kafkaLogAccessProblem('Error: oauthbearer_token_refresh_cb: Application Default Credentials name no service account')!, /Application Default Credentials/);
  assert.equal(kafkaLogAccessProblem('127.0.0.1:9092/bootstrap: Connect to ipv4#127.0.0.1:9092 failed: Connection refused'), null);
});
