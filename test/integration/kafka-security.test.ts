// The processor through the broker's SASL_SSL listener (scripts/infra/kafka.sh with KAFKA_SASL_SSL_PORT): TLS
// checked against the test CA, SCRAM-SHA-512 users made for this run, ACLs enforced. Records in over PLAINTEXT
// (the tests' client, a super user), through the secured processor, files and file-ready events out. A capture
// scope's plan (rights by topic prefix, as --print-acls prints them): a processor following a topic template and a
// cdc with a database scope, each granted exactly its plan, handle a topic made after their start.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { encodeChangeEvent, OPERATIONS, parseConfig, type KafkaAcl } from '@cdc/core';
import { processorAcls, processorConfigSchema } from '@cdc/processor';
import { infra, uniqueName } from '../support/infra.js';
import { repoRoot, startService } from '../support/service-process.js';
import { announcedFiles, assertExactlyOnce, createTopic, orderEvent, produce, waitFor, waitForCommittedToEnd } from '../support/processor.js';
import { runCli } from '../support/loader.js';
import { readTopic, testKafka } from '../support/kafka.js';
import { testMongo } from '../support/mongo.js';

// a broker started without the listener fails here, saying so, instead of timing out in every test
await new Promise<void>((resolve, reject) => {
  const [host, port] = infra.kafkaSaslSslBrokers.split(':');
  const socket = connect(Number(port), host!, () => {
    socket.end();
    resolve();
  });
  socket.once('error', () => reject(new Error(`no SASL_SSL listener on ${infra.kafkaSaslSslBrokers}: start Kafka with KAFKA_SASL_SSL_PORT=${port} scripts/infra.sh up kafka`)));
});

const kafka = testKafka();
const prefix = uniqueName('secure');
const dir = join(repoRoot, '.run', 'test-data', prefix);
mkdirSync(dir, { recursive: true });

/** Kafka's own tools, through scripts/infra/kafka.sh (the password on stdin, never on a command line). */
function kafkaTool(args: string[], input?: string): void {
  const result = spawnSync('bash', [join(repoRoot, 'scripts', 'infra', 'kafka.sh'), ...args], { input, encoding: 'utf8' });
  assert.equal(result.status, 0, `kafka.sh ${args[0]} failed: ${result.stderr}`);
}

/** A SCRAM user with a fresh random password, also kept in a file only the test's OS user can read. */
function scramUser(name: string): { name: string; password: string; passwordFile: string } {
  const password = randomBytes(18).toString('hex');
  kafkaTool(['add-user', name], `${password}\n`);
  const passwordFile = join(dir, `${name}.password`);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  return { name, password, passwordFile };
}

const granted = scramUser(`${prefix}-svc`);
const ungranted = scramUser(`${prefix}-none`);
const topicsOnly = scramUser(`${prefix}-topics`);
// what a processor needs, for the names this run uses: its topics, its group, its transactional ids
kafkaTool(['acl', '--add', '--allow-principal', `User:${granted.name}`, '--operation', 'All', '--resource-pattern-type', 'prefixed', '--topic', prefix, '--group', prefix, '--transactional-id', prefix]);
kafkaTool(['acl', '--add', '--allow-principal', `User:${topicsOnly.name}`, '--operation', 'All', '--resource-pattern-type', 'prefixed', '--topic', prefix, '--transactional-id', prefix]);

function processorEnv(name: string, extra: Record<string, string>): Record<string, string> {
  return {
    KAFKA_BROKERS: infra.kafkaSaslSslBrokers,
    KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
    KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
    KAFKA_SSL_CA_LOCATION: infra.kafkaCaFile,
    KAFKA_CLIENT_ID: `${prefix}-${name}`,
    KAFKA_TOPIC_PARTITIONS: '2',
    KAFKA_CONNECT_RETRIES: '2',
    PROCESSOR_TOPICS: `${prefix}-${name}-orders-cdc`,
    PROCESSOR_GROUP_ID: `${prefix}-${name}-group`,
    PROCESSOR_FILES_TOPIC: `${prefix}-${name}-files`,
    PROCESSOR_OUTPUT_DIR: join(dir, name),
    PROCESSOR_BATCH_MAX_AGE_MS: '400',
    PROCESSOR_SESSION_TIMEOUT_MS: '6000',
    ...extra,
  };
}

/**
 * Starts a processor that must be refused: it exits non-zero within a minute having written no file; its log.
 */
async function refusedStart(env: Record<string, string>, label: string): Promise<string> {
  const processor = await startService('processor', env, label);
  const code = await Promise.race([processor.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 60000))]);
  await processor.kill('SIGKILL');
  assert.notEqual(code, 'hung', 'the processor gave up');
  assert.notEqual(code, 0);
  assert.deepEqual(filesUnder(env.PROCESSOR_OUTPUT_DIR!), []);
  return processor.output.join('\n');
}

/** Every file under the processor's output dir (none must exist after a refused start). */
function filesUnder(path: string): string[] {
  return existsSync(path) ? readdirSync(path, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name) : [];
}

/** Grants `user` exactly the rights of a plan (what deploy.sh grants from --print-acls). */
function grantPlan(user: string, acls: KafkaAcl[]): void {
  const flag = { TOPIC: '--topic', GROUP: '--group', TRANSACTIONAL_ID: '--transactional-id' } as const;
  for (const acl of acls) {
    kafkaTool(['acl', '--add', '--allow-principal', `User:${user}`, '--operation', acl.operation, '--resource-pattern-type', acl.pattern.toLowerCase(), flag[acl.resource], acl.name]);
  }
}

describe('processor over SASL_SSL with SCRAM-SHA-512', () => {
  test('records go through the secured listener exactly once; the password (from a file) is never logged', async () => {
    const env = processorEnv('ok', { KAFKA_SASL_USERNAME: granted.name, KAFKA_SASL_PASSWORD_FILE: granted.passwordFile });
    await createTopic(kafka, env.PROCESSOR_TOPICS!, 2);
    const produced = await produce(
      kafka,
      env.PROCESSOR_TOPICS!,
      Array.from({ length: 12 }, (_, n) => {
        const event = orderEvent(OPERATIONS[n % OPERATIONS.length]!, n);
        return { partition: n % 2, key: event.document_id, value: encodeChangeEvent(event), event };
      }),
    );
    const processor = await startService('processor', env, 'processor-sasl-ssl');
    try {
      await processor.waitReady();
      await waitForCommittedToEnd(kafka, env.PROCESSOR_GROUP_ID!, env.PROCESSOR_TOPICS!);
      const files = await announcedFiles(kafka, env.PROCESSOR_FILES_TOPIC!, 1);
      await assertExactlyOnce(assert, env.PROCESSOR_OUTPUT_DIR!, files, produced);
      const starting = JSON.parse(processor.output.find((line) => line.includes('"msg":"starting"'))!);
      assert.equal(starting.config.KAFKA_SECURITY_PROTOCOL, 'SASL_SSL');
      assert.equal(starting.config.KAFKA_SASL_PASSWORD_FILE, granted.passwordFile);
    } finally {
      await processor.kill('SIGTERM');
    }
    assert.ok(processor.output.length > 0);
    assert.ok(!processor.output.some((line) => line.includes(granted.password)), 'the password is in no log line');
  });

  test("with a topic template and exactly its plan's rights (by prefix), a topic made after the start is read exactly once", async () => {
    const user = scramUser(`${prefix}-plan`);
    const env: Record<string, string> = {
      ...processorEnv('tpl', { KAFKA_SASL_USERNAME: user.name, KAFKA_SASL_PASSWORD_FILE: user.passwordFile }),
      PROCESSOR_TOPIC_TEMPLATE: `${prefix}-tpl.{db}.{coll}-cdc`,
    };
    delete env.PROCESSOR_TOPICS;
    const acls = processorAcls(parseConfig(processorConfigSchema, { env }));
    assert.ok(acls.some((acl) => acl.resource === 'TOPIC' && acl.pattern === 'PREFIXED' && acl.name === `${prefix}-tpl.` && acl.operation === 'READ'), 'its input topics granted by prefix');
    grantPlan(user.name, acls);
    // the admin's part (deploy.sh): the files topic; the cdc's: the input topic and its dead-letter topic
    await createTopic(kafka, env.PROCESSOR_FILES_TOPIC!, 2);
    await createTopic(kafka, `${env.PROCESSOR_FILES_TOPIC!}.dlq`, 1);
    const processor = await startService('processor', env, 'processor-sasl-template');
    try {
      await processor.waitReady();
      const topic = `${prefix}-tpl.shop.orders-cdc`;
      await createTopic(kafka, topic, 2);
      await createTopic(kafka, `${topic}.dlq`, 1);
      const produced = await produce(
        kafka,
        topic,
        Array.from({ length: 8 }, (_, n) => {
          const event = orderEvent(OPERATIONS[n % OPERATIONS.length]!, n);
          return { partition: n % 2, key: event.document_id, value: encodeChangeEvent(event), event };
        }),
      );
      await waitForCommittedToEnd(kafka, env.PROCESSOR_GROUP_ID!, topic);
      const files = await announcedFiles(kafka, env.PROCESSOR_FILES_TOPIC!, 1);
      await assertExactlyOnce(assert, env.PROCESSOR_OUTPUT_DIR!, files, produced);
    } finally {
      await processor.kill('SIGTERM');
    }
  });

  test("a cdc with a database scope and exactly its plan's rights (by prefix) makes a new collection's topic and writes it", async () => {
    const user = scramUser(`${prefix}-cdc`);
    const db = `${prefix}-db`.replaceAll('-', '_');
    const env: Record<string, string> = {
      MONGO_URI: infra.mongoUri,
      KAFKA_BROKERS: infra.kafkaSaslSslBrokers,
      KAFKA_SECURITY_PROTOCOL: 'SASL_SSL',
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SSL_CA_LOCATION: infra.kafkaCaFile,
      KAFKA_SASL_USERNAME: user.name,
      KAFKA_SASL_PASSWORD_FILE: user.passwordFile,
      KAFKA_CLIENT_ID: `${prefix}-cdc`,
      KAFKA_TOPIC_PARTITIONS: '2',
      CDC_CAPTURE_SCOPE: 'database',
      CDC_CAPTURE_DATABASE: db,
      CDC_TOPIC_TEMPLATE: `${prefix}-scope.{db}.{coll}-cdc`,
      CDC_CHECKPOINT_TOPIC: `${prefix}-scope-checkpoints`,
    };
    // what deploy.sh does: the service prints its plan, the admin grants it and makes the topics it lists
    const plan = await runCli('services/cdc/dist/main.js', ['--print-acls'], env);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, new RegExp(`^TOPIC PREFIXED ${prefix}-scope\\. CREATE$`, 'm'), 'new topics made by prefix');
    grantPlan(
      user.name,
      plan.stdout.trim().split('\n').map((line) => {
        const [resource, pattern, name, operation] = line.split(' ') as [KafkaAcl['resource'], KafkaAcl['pattern'], string, KafkaAcl['operation']];
        return { resource, pattern, name, operation };
      }),
    );
    await createTopic(kafka, env.CDC_CHECKPOINT_TOPIC!, 1, { 'cleanup.policy': 'compact' });
    const mongo = await testMongo();
    const cdc = await startService('cdc', env, 'cdc-sasl-scope');
    try {
      await cdc.waitReady();
      await mongo.db(db).collection('fresh').insertMany(Array.from({ length: 6 }, (_, n) => ({ _id: n, n }) as never));
      const topic = `${prefix}-scope.${db}.fresh-cdc`;
      // made by the cdc's principal as it meets the collection (a reader subscribed before would not see it)
      const admin = kafka.admin();
      await admin.connect();
      await waitFor(`the cdc to make ${topic}`, async () => (await admin.listTopics()).includes(topic) || null, 120_000, 500).finally(() => admin.disconnect());
      const records = await readTopic(kafka, topic, { minCount: 6, timeoutMs: 120_000 });
      // streamed, or copied by the new collection's snapshot (a document may come both ways)
      assert.equal(new Set(records.map((m) => JSON.parse(String(m.value)).document_id)).size, 6, 'every document in its topic');
      assert.equal(cdc.exitCode, undefined, 'the cdc runs on');
    } finally {
      await cdc.kill('SIGTERM');
      await mongo.close();
    }
  });

  test('a wrong password ends the start non-zero, naming the variables to check, without the password', async () => {
    const wrong = `wrong-${randomBytes(8).toString('hex')}`;
    const env = processorEnv('badpw', { KAFKA_SASL_USERNAME: granted.name, KAFKA_SASL_PASSWORD: wrong });
    const log = await refusedStart(env, 'processor-sasl-bad-password');
    assert.match(log, /Kafka refused the credentials: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
    assert.doesNotMatch(log, new RegExp(wrong));
  });

  test('a principal without ACLs is refused at start, and nothing is written', async () => {
    // the topics of this run carry the granted user's ACLs, so the other user is denied them
    const env = processorEnv('noacl', { KAFKA_SASL_USERNAME: ungranted.name, KAFKA_SASL_PASSWORD_FILE: ungranted.passwordFile });
    await createTopic(kafka, env.PROCESSOR_TOPICS!, 2);
    await produce(kafka, env.PROCESSOR_TOPICS!, [{ partition: 0, key: 'k', value: encodeChangeEvent(orderEvent('insert', 1)) }]);
    assert.match(await refusedStart(env, 'processor-sasl-no-acl'), /principal has no ACL/);
    const admin = kafka.admin();
    await admin.connect();
    try {
      assert.ok(!(await admin.listTopics()).includes(env.PROCESSOR_FILES_TOPIC!), 'the files topic was not created');
    } finally {
      await admin.disconnect();
    }
  });

  test('a principal with its topics but not its consumer group ends, instead of retrying for ever', async () => {
    const env = processorEnv('nogroup', { KAFKA_SASL_USERNAME: topicsOnly.name, KAFKA_SASL_PASSWORD_FILE: topicsOnly.passwordFile });
    await createTopic(kafka, env.PROCESSOR_TOPICS!, 2);
    await produce(kafka, env.PROCESSOR_TOPICS!, [{ partition: 0, key: 'k', value: encodeChangeEvent(orderEvent('insert', 1)) }]);
    assert.match(await refusedStart(env, 'processor-sasl-no-group-acl'), /principal has no ACL.*Group authorization failed/);
  });
});
