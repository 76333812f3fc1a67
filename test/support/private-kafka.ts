// A Kafka broker of a test's own (own ports, own run directory), started, stopped and killed with the same script
// as the shared one: a test that takes its broker away never disturbs the tests running beside it (scripts/test.sh
// runs test files side by side).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killProcessGroup, repoRoot } from './service-process.js';

const run = promisify(execFile);

export interface PrivateKafka {
  /** bootstrap address for the services (KAFKA_BROKERS) and the test's clients */
  brokers: string;
  /** a clean stop (scripts/infra/kafka.sh down); the data stays for start() */
  stop(): Promise<void>;
  /** SIGKILL of the broker's process group: a crash; the data stays for start() */
  kill(): void;
  /** starts it again and waits until it answers (nothing when it runs) */
  start(): Promise<void>;
  /** stops it and deletes its data */
  remove(): Promise<void>;
}

/** Starts a broker on free ports; `serverProperties` are further broker settings (e.g. log.retention.check.interval.ms). */
export async function startPrivateKafka(serverProperties: Record<string, string> = {}): Promise<PrivateKafka> {
  const [port, controllerPort] = [await freePort(), await freePort()];
  const runDir = await mkdtemp(join(tmpdir(), 'private-kafka-'));
  const script = join(repoRoot, 'scripts', 'infra', 'kafka.sh');
  // own ports and run directory (pid file, log, data), no secured listener: `down` with the same variables stops only this broker
  const env = {
    ...process.env,
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    KAFKA_SASL_SSL_PORT: '',
    KAFKA_SERVER_PROPERTIES: Object.entries(serverProperties).map(([key, value]) => `${key}=${value}`).join('\n'),
    CDC_RUN_DIR: runDir,
  };
  const broker: PrivateKafka = {
    brokers: `127.0.0.1:${port}`,
    stop: async () => void (await run('bash', [script, 'down'], { env })),
    kill: () => killProcessGroup(join(runDir, 'kafka', 'pid')),
    start: async () => void (await run('bash', [script, 'up'], { env, timeout: 300_000 })),
    remove: async () => {
      await run('bash', [script, 'down'], { env }).catch(() => undefined);
      await rm(runDir, { recursive: true, force: true });
    },
  };
  try {
    await broker.start();
  } catch (error) {
    await broker.remove();
    throw error;
  }
  return broker;
}
