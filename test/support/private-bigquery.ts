// A BigQuery emulator of a test's own (own ports, own run directory), started and killed with the same script as
// the shared one: a test that takes BigQuery away never disturbs the tests running beside it.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, killProcessGroup, repoRoot } from './service-process.js';

const run = promisify(execFile);

export interface PrivateBigQuery {
  /** BIGQUERY_ENDPOINT of the services and the test's clients */
  endpoint: string;
  /** SIGKILL of the emulator's process group: a crash; its data stays for start() */
  kill(): void;
  /** starts it again on the same ports and data and waits until it answers (nothing when it runs) */
  start(): Promise<void>;
  /** stops it and deletes its data */
  remove(): Promise<void>;
}

export async function startPrivateBigQuery(): Promise<PrivateBigQuery> {
  const [port, grpcPort] = [await freePort(), await freePort()];
  const runDir = await mkdtemp(join(tmpdir(), 'private-bigquery-'));
  const script = join(repoRoot, 'scripts', 'infra', 'bigquery.sh');
  // own ports and run directory (pid file, log, data): `down` with the same variables stops only this emulator
  const env = { ...process.env, BIGQUERY_PORT: String(port), BIGQUERY_GRPC_PORT: String(grpcPort), CDC_RUN_DIR: runDir };
  const emulator: PrivateBigQuery = {
    endpoint: `http://127.0.0.1:${port}`,
    kill: () => killProcessGroup(join(runDir, 'bigquery', 'pid')),
    start: async () => void (await run('bash', [script, 'up'], { env, timeout: 180_000 })),
    remove: async () => {
      await run('bash', [script, 'down'], { env }).catch(() => undefined);
      await rm(runDir, { recursive: true, force: true });
    },
  };
  try {
    await emulator.start();
  } catch (error) {
    await emulator.remove();
    throw error;
  }
  return emulator;
}
