// The product's main path in real containers, as a user runs it (npm run test:docker, after scripts/docker/run.sh
// has a Docker engine, the Compose CLI and the stand-in base images ready): cp .env.example .env, ./deploy.sh,
// ./test.sh, the secured broker's refusals (a wrong password, a principal writing where it has no ACL), service
// processes killed while a writer inserts (nothing lost or doubled in BigQuery), ./deploy.sh down --volumes; then the
// HA overlay (COMPOSE_HA=true) with the broker coordinating the processor group stopped mid-stream; then the bucket
// output (PROCESSOR_OUTPUT=gs://..., no volume shared by processor and loader) with both of them SIGKILLed.
// MongoDB is the stand-in image (test/docker/compose.stand-ins.yml, via CDC_COMPOSE_OVERRIDES); every other
// service runs from the project's compose files and Dockerfiles as shipped, with the .env.example defaults.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MongoClient } from 'mongodb';

// the tree deployed: a copy made by scripts/docker/run-tests.sh (COMPOSE_TEST_ROOT), else this checkout
const root = resolve(process.env.COMPOSE_TEST_ROOT ?? join(import.meta.dirname, '../..'));
// every published port moved by COMPOSE_TEST_PORT_OFFSET, so that the stack can run beside the local infrastructure
const portOffset = Number(process.env.COMPOSE_TEST_PORT_OFFSET ?? 0);
assert.ok(Number.isInteger(portOffset) && portOffset >= 0, `COMPOSE_TEST_PORT_OFFSET: not a port offset: ${process.env.COMPOSE_TEST_PORT_OFFSET}`);
const isPublishedPort = (key) => /_PORT(_\d+)?$/.test(key);
const shippedEnv = readFileSync(join(root, '.env.example'), 'utf8');
const env = Object.fromEntries(
  shippedEnv
    .split('\n')
    .map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line))
    .filter(Boolean)
    .map(([, key, value]) => [key, isPublishedPort(key) && value !== '' ? String(Number(value) + portOffset) : value]),
);
const project = env.GCP_PROJECT;
const table = (name) => `\`${project}.${env.BQ_DATASET}.${name}\``;
const mongoUri = `mongodb://127.0.0.1:${env.MONGO_PORT}/?directConnection=true`;
const [db, coll] = env.CDC_COLLECTIONS.split(',')[0].trim().split('.');
const MINUTE = 60_000;

/** runs a command in the repository root, its output passed through (unless quiet); resolves to { code, output } */
function run(command, args, { timeoutMs = 20 * MINUTE, quiet = false } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk) => {
      output += chunk;
      if (!quiet) process.stderr.write(chunk);
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code: signal ? `signal ${signal}` : code, output });
    });
  });
}

async function runOk(command, args, options) {
  const result = await run(command, args, options);
  assert.equal(result.code, 0, `${command} ${args.join(' ')} failed`);
  return result.output;
}

/** one query on the BigQuery emulator's REST API (published on the host); rows as arrays of strings */
async function bigquery(sql) {
  const response = await fetch(`http://127.0.0.1:${env.BIGQUERY_PORT}/bigquery/v2/projects/${project}/queries`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: sql, useLegacySql: false, timeoutMs: 30_000 }),
  });
  const text = await response.text();
  assert.ok(response.ok, `BigQuery query failed: ${response.status} ${text}`);
  const body = JSON.parse(text);
  return (body.rows ?? []).map((row) => row.f.map((cell) => cell.v));
}

const containerOf = async (service) =>
  (await runOk('docker', ['ps', '-q', '--filter', `label=com.docker.compose.project=${env.COMPOSE_PROJECT_NAME}`, '--filter', `label=com.docker.compose.service=${service}`])).trim();

async function waitHealthy(service, timeoutMs = 5 * MINUTE) {
  const start = Date.now();
  for (;;) {
    const id = await containerOf(service);
    if (id && (await runOk('docker', ['inspect', '-f', '{{.State.Health.Status}}', id])).trim() === 'healthy') return;
    assert.ok(Date.now() - start < timeoutMs, `${service} not healthy again within ${timeoutMs / 1000}s`);
    await sleep(2000);
  }
}

/** One of Kafka's tools as the brokers' admin, in the kafka container (compose/kafka/admin.sh: no password in argv). */
const kafkaAdminTool = async (tool, ...args) =>
  runOk('docker', ['exec', await containerOf('kafka'), 'sh', '/usr/local/share/cdc/kafka-admin.sh', 'tool', tool, ...args], { quiet: true });

/** docker compose on the deployed files, as deploy.sh runs it (scripts/lib/compose.sh) */
const compose = (args, options) =>
  run('bash', ['-c', 'ROOT_DIR="$PWD"; source scripts/lib/dotenv.sh; source scripts/lib/compose.sh; dotenv_load .env.example; dotenv_load .env; compose_init; compose "$@"', 'compose', ...args], options);

/** A value of the deployed .env (deploy.sh filled the passwords in). */
const dotenvValue = (key) => new RegExp(`^${key}=(.*)$`, 'm').exec(readFileSync(join(root, '.env'), 'utf8'))?.[1] ?? '';

/** The end offset of each partition of a topic read by the processor's group (LOG-END-OFFSET), e.g. "0:12 1:0". */
async function endOffsets(topic) {
  const output = await kafkaAdminTool('kafka-consumer-groups.sh', '--describe', '--group', env.PROCESSOR_GROUP_ID);
  const rows = output.split('\n').map((line) => line.trim().split(/\s+/)).filter((cells) => cells[1] === topic);
  assert.ok(rows.length > 0, `no partition of ${topic} in: ${output}`);
  return rows.map((cells) => `${cells[2]}:${cells[4]}`).sort().join(' ');
}

/** The compose service of the broker coordinating a consumer group (kafka, kafka-2, ...), asked of the cluster. */
async function groupCoordinator(group) {
  const output = await kafkaAdminTool('kafka-consumer-groups.sh', '--describe', '--group', group, '--state');
  const match = new RegExp(`^${group}\\s+([\\w-]+):\\d+`, 'm').exec(output);
  assert.ok(match, `no coordinator for group ${group} in: ${output}`);
  return match[1];
}

/** Before a failing scenario's stack is torn down: every container's log kept under .run/, the services' tails printed. */
async function keepLogs(label) {
  const capture = async (command, args) => (await run(command, args, { quiet: true })).output;
  const dir = join(root, '.run', 'docker-test-logs', label);
  mkdirSync(dir, { recursive: true });
  const ids = (await capture('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${env.COMPOSE_PROJECT_NAME}`])).split('\n').filter(Boolean);
  for (const id of ids) {
    const name = (await capture('docker', ['inspect', '-f', '{{index .Config.Labels "com.docker.compose.service"}}', id])).trim();
    const text = await capture('docker', ['logs', '--timestamps', id]);
    writeFileSync(join(dir, `${name}.log`), text);
    if (['cdc', 'processor', 'loader'].includes(name)) process.stderr.write(`--- ${name} (last 40 lines) ---\n${text.split('\n').slice(-40).join('\n')}\n`);
  }
  process.stderr.write(`container logs: ${dir}\n`);
}

/**
 * Inserts `count` orders (string _ids `<prefix>-<n>`, one every `intervalMs`) while `disrupt` runs, then waits
 * until the current-state table holds each exactly once and the changes table each insert event exactly once.
 */
async function writeThroughDisruption(prefix, count, intervalMs, disrupt) {
  const client = new MongoClient(mongoUri, { serverSelectionTimeoutMS: 30_000 });
  await client.connect();
  const orders = client.db(db).collection(coll);
  const writer = (async () => {
    for (let n = 0; n < count; n++) {
      await orders.insertOne({ _id: `${prefix}-${String(n).padStart(5, '0')}`, status: 'new', total: n, items: [{ sku: `sku-${n % 7}`, qty: 1 }] });
      await sleep(intervalMs);
    }
  })();
  try {
    await Promise.all([writer, disrupt()]);
  } finally {
    await client.close();
  }
  const where = `WHERE document_id LIKE '%${prefix}-%'`;
  const deadline = Date.now() + 6 * MINUTE;
  let current, changes;
  for (;;) {
    [current] = await bigquery(`SELECT COUNT(*), COUNT(DISTINCT document_id) FROM ${table(env.BQ_CURRENT_TABLE)} ${where}`);
    [changes] = await bigquery(`SELECT COUNT(*), COUNT(DISTINCT event_id) FROM ${table(env.BQ_CHANGES_TABLE)} ${where} AND op = 'insert'`);
    if (Number(current[1]) >= count && Number(changes[1]) >= count) break;
    if (Date.now() >= deadline) {
      await keepLogs(prefix);
      assert.fail(`not all ${count} orders in BigQuery in time: current ${current}, changes ${changes}`);
    }
    await sleep(5000);
  }
  assert.deepEqual(current.map(Number), [count, count], 'current-state table: one row per order');
  assert.deepEqual(changes.map(Number), [count, count], 'changes table: one insert event per order');
}

/** Crashes each service in turn while the writer runs, and waits until Docker has restarted it once and it is healthy. */
async function crashEach(services) {
  for (const service of services) {
    await sleep(8000);
    const id = await containerOf(service);
    const restarts = Number(await runOk('docker', ['inspect', '-f', '{{.RestartCount}}', id]));
    // SIGKILL to the service's process from the host, i.e. a crash: `docker kill` counts as a manual stop,
    // after which Docker does not apply the restart policy (unless-stopped)
    process.kill(Number(await runOk('docker', ['inspect', '-f', '{{.State.Pid}}', id])), 'SIGKILL');
    await sleep(3000);
    await waitHealthy(service);
    assert.equal(Number(await runOk('docker', ['inspect', '-f', '{{.RestartCount}}', id])), restarts + 1, `${service} restarted once`);
  }
}

/** The volumes and bind mounts of a service's container: "<volume name or host path> -> <container path>". */
async function mountsOf(service) {
  const id = await containerOf(service);
  assert.ok(id, `${service} is running`);
  const mounts = JSON.parse(await runOk('docker', ['inspect', '-f', '{{json .Mounts}}', id], { quiet: true }));
  return mounts.filter((mount) => mount.Type === 'volume' || mount.Type === 'bind').map((mount) => `${mount.Name || mount.Source} -> ${mount.Destination}`);
}

const setEnv = (key, value) => {
  const path = join(root, '.env');
  writeFileSync(path, readFileSync(path, 'utf8').replace(new RegExp(`^${key}=.*$`, 'm'), `${key}=${value}`));
};

describe('docker compose deployment', { concurrency: false }, () => {
  const dotenv = join(root, '.env');
  const saved = join(root, '.env.before-test-docker');
  before(() => {
    // a developer's own .env is kept aside and put back; the test uses the shipped defaults
    if (existsSync(dotenv)) renameSync(dotenv, saved);
    copyFileSync(join(root, '.env.example'), dotenv);
    for (const [key, value] of Object.entries(env)) if (isPublishedPort(key)) setEnv(key, value);
  });
  after(async () => {
    await run('./deploy.sh', ['down', '--volumes']);
    rmSync(dotenv, { force: true });
    if (existsSync(saved)) renameSync(saved, dotenv);
  });

  test('./deploy.sh builds every image and brings the stack up', { timeout: 30 * MINUTE }, async () => {
    const output = await runOk('./deploy.sh', [], { timeoutMs: 30 * MINUTE });
    assert.match(output, /pipeline up in \d+s/);
  });

  test('./test.sh: order-2 reaches orders_current, one log file per service', { timeout: 10 * MINUTE }, async () => {
    const output = await runOk('./test.sh', []);
    assert.match(output, /PASS: order \w+ is in /);
    assert.match(output, /console http:\/\/127\.0\.0\.1:\d+\/ shows the change: "name":"shop\.orders"/);
    const dir = join(root, /logs: (logs\/\S+)/.exec(output)[1]);
    const logs = readdirSync(dir).sort();
    const services = ['bigquery', 'cdc', 'console', 'gcp-setup', 'gcs', 'gcs-volume-init', 'kafka', 'loader', 'mongo', 'mongo-keyfile', 'processor'];
    assert.deepEqual(logs, services.map((service) => `${service}.log`).sort(), `one log per service in ${dir}`);
    // the GCS emulator and the volume init log nothing at their log levels; every other service logs its start
    for (const service of ['bigquery', 'cdc', 'console', 'gcp-setup', 'kafka', 'loader', 'mongo', 'processor']) {
      assert.ok(statSync(join(dir, `${service}.log`)).size > 0, `empty log of ${service}`);
    }
  });

  test('the secured broker: a wrong password stops a service naming the variables; a user cannot write where it has no ACL; no password in a log', { timeout: 10 * MINUTE }, async () => {
    const wrong = `wrong-${Date.now()}`;
    const refused = await compose(['run', '--rm', '--no-deps', '-T', '-e', `KAFKA_SASL_PASSWORD=${wrong}`, 'processor'], { timeoutMs: 5 * MINUTE, quiet: true });
    assert.notEqual(refused.code, 0, `the processor with a wrong password exited ${refused.code}`);
    assert.match(refused.output, /Kafka refused the credentials: check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/);
    assert.doesNotMatch(refused.output, new RegExp(wrong));

    // the loader's own user (its compose environment: no password on a command line) producing to a CDC topic,
    // with the services' client and error reporting
    const topic = env.PROCESSOR_TOPICS.split(',')[0];
    const before = await endOffsets(topic);
    const probe = `
      import { createKafka, createLogger, kafkaAccessProblem, kafkaSecurityOf, kafkaSecuritySchema, parseConfig } from '@cdc/core';
      const security = kafkaSecurityOf(parseConfig(kafkaSecuritySchema(), { dotenvPath: false }));
      const kafka = createKafka({ brokers: process.env.KAFKA_BROKERS.split(','), clientId: 'acl-probe', logger: createLogger({ service: 'acl-probe', level: 'silent' }), security });
      const producer = kafka.producer({ kafkaJS: { acks: -1, allowAutoTopicCreation: false }, 'message.timeout.ms': 60000 });
      await producer.connect();
      try {
        await producer.send({ topic: process.argv[1], messages: [{ key: 'forged', value: 'forged' }] });
        console.log('WRITTEN');
      } catch (error) {
        console.log('REFUSED: ' + (kafkaAccessProblem(error) ?? 'another error') + ': ' + error.message);
        process.exitCode = 3;
      }
      await producer.disconnect();`;
    const forged = await compose(['run', '--rm', '--no-deps', '-T', '--entrypoint', 'node', 'loader', '--input-type=module', '-e', probe, topic], { timeoutMs: 5 * MINUTE, quiet: true });
    assert.equal(forged.code, 3, `the loader's user writing ${topic}: ${forged.output}`);
    assert.match(forged.output, /REFUSED: Kafka authenticated the client but its principal has no ACL for this \(the principal is KAFKA_SASL_USERNAME\): .*[Aa]uthoriz/);
    assert.equal(await endOffsets(topic), before, `nothing written to ${topic}`);

    const passwords = ['KAFKA_ADMIN_PASSWORD', 'KAFKA_CDC_PASSWORD', 'KAFKA_PROCESSOR_PASSWORD', 'KAFKA_LOADER_PASSWORD', 'KAFKA_CONSOLE_PASSWORD'].map(dotenvValue);
    assert.ok(passwords.every((password) => /^[0-9a-f]{48}$/.test(password)), 'deploy.sh generated every Kafka password');
    const ids = (await runOk('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${env.COMPOSE_PROJECT_NAME}`], { quiet: true })).split('\n').filter(Boolean);
    for (const id of ids) {
      const { output } = await run('docker', ['logs', id], { quiet: true });
      for (const password of passwords) assert.ok(!output.includes(password), `a Kafka password in the log of container ${id}`);
    }
  });

  test('a crashed cdc and processor are restarted: nothing lost or doubled', { timeout: 15 * MINUTE }, async () => {
    await writeThroughDisruption(`kill-${Date.now()}`, 300, 100, () => crashEach(['cdc', 'processor']));
  });

  test('./deploy.sh down --volumes removes the stack', { timeout: 5 * MINUTE }, async () => {
    await runOk('./deploy.sh', ['down', '--volumes']);
    assert.equal(await containerOf('kafka'), '');
  });

  // The broker stopped is the processor group's coordinator, the hardest case: every transaction in flight must
  // find a new one for its offsets (librdkafka's send_offsets_to_transaction waits for ever on a coordinator that
  // left the cluster; the processor detects the stuck call, kills itself and is restarted).
  test('HA overlay: 3 brokers, the consumer group coordinator stopped mid-stream: nothing lost or doubled', { timeout: 40 * MINUTE }, async () => {
    setEnv('COMPOSE_HA', 'true');
    await runOk('./deploy.sh', [], { timeoutMs: 30 * MINUTE });
    const brokers = await Promise.all(['kafka', 'kafka-2', 'kafka-3'].map(containerOf));
    assert.ok(brokers.every(Boolean), `3 brokers running: ${brokers}`);
    const coordinator = await containerOf(await groupCoordinator(env.PROCESSOR_GROUP_ID));
    await writeThroughDisruption(`ha-${Date.now()}`, 200, 100, async () => {
      await sleep(8000);
      await runOk('docker', ['stop', coordinator]);
    });
    await runOk('docker', ['start', coordinator]);
    await runOk('./deploy.sh', ['down', '--volumes']);
  });

  // The bucket path, deployed as a user would: PROCESSOR_OUTPUT a gs:// prefix in .env, LOADER_INPUT unset (compose
  // gives the loader the processor's), deploy.sh laying compose/process.bucket.yml over process.yml. The processor
  // and the loader share nothing but Kafka and the GCS emulator; the images are the first deployment's.
  test('bucket output, no shared volume: ./test.sh, the processor and the loader SIGKILLed: nothing lost or doubled', { timeout: 40 * MINUTE }, async () => {
    const bucket = env.GCS_BUCKET.replaceAll('{project}', project);
    const output = `gs://${bucket}/parquet/`;
    setEnv('COMPOSE_HA', 'false');
    setEnv('PROCESSOR_OUTPUT', output);
    await runOk('./deploy.sh', [], { timeoutMs: 30 * MINUTE });

    const loaderInput = await runOk('docker', ['inspect', '-f', '{{range .Config.Env}}{{println .}}{{end}}', await containerOf('loader')], { quiet: true });
    assert.match(loaderInput, new RegExp(`^LOADER_INPUT=${output}$`, 'm'), 'the loader reads the processor\'s bucket prefix');
    const volume = (name) => `${env.COMPOSE_PROJECT_NAME}_${name}`;
    const processorMounts = await mountsOf('processor');
    const loaderMounts = await mountsOf('loader');
    assert.deepEqual(processorMounts, [`${volume('processor-buffer')} -> /data/buffer`], 'the processor: its write buffer only');
    assert.deepEqual(loaderMounts, [`${volume('loader-work')} -> /data/work`], 'the loader: its working directory only');
    const ids = (await runOk('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${env.COMPOSE_PROJECT_NAME}`], { quiet: true })).split('\n').filter(Boolean);
    for (const id of ids) {
      const mounts = await runOk('docker', ['inspect', '-f', '{{range .Mounts}}{{.Name}} {{end}}', id], { quiet: true });
      assert.ok(!mounts.includes(volume('parquet-data')), `container ${id} mounts the shared Parquet volume: ${mounts}`);
    }

    const passed = await runOk('./test.sh', []);
    assert.match(passed, /PASS: order \w+ is in /);
    const listing = await fetch(`http://127.0.0.1:${env.GCS_PORT}/storage/v1/b/${bucket}/o?prefix=parquet/`);
    assert.ok(listing.ok, `listing gs://${bucket}/parquet/: HTTP ${listing.status}`);
    const objects = ((await listing.json()).items ?? []).map((item) => item.name);
    assert.ok(objects.some((name) => name.endsWith('.parquet')), `Parquet objects under ${output}: ${objects.join(', ')}`);

    await writeThroughDisruption(`bucket-${Date.now()}`, 200, 100, () => crashEach(['processor', 'loader']));
    await runOk('./deploy.sh', ['down', '--volumes']);
    assert.equal(await containerOf('kafka'), '');
  });
});
