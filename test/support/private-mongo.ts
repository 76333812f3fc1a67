// A MongoDB stand-in of a test's own (own port, own run directory, own settings such as a capped oplog), started
// and stopped with the same script as the shared one: stopping it never touches the shared instance.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, repoRoot } from './service-process.js';

const run = promisify(execFile);

export interface PrivateMongo {
  port: number;
  /** connection string for the driver and the CDC service */
  uri: string;
  stop(): Promise<void>;
}

/** Starts a stand-in on a free port; `settings` are MONGO_* variables of scripts/infra/mongo.sh (e.g. MONGO_OPLOG_MAX_ENTRIES). */
export async function startPrivateMongo(settings: Record<string, string> = {}): Promise<PrivateMongo> {
  const port = await freePort();
  const runDir = await mkdtemp(join(tmpdir(), 'private-mongo-'));
  const script = join(repoRoot, 'scripts', 'infra', 'mongo.sh');
  // Own port and run directory (pid file, log, data): `down` with the same variables stops only this instance.
  const env = { ...process.env, MONGO_BACKEND: 'memory', ...settings, MONGO_PORT: String(port), CDC_RUN_DIR: runDir };
  const stop = async () => {
    await run('bash', [script, 'down'], { env }).catch(() => undefined);
    await rm(runDir, { recursive: true, force: true });
  };
  try {
    await run('bash', [script, 'up'], { env, timeout: 120000 });
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, uri: `mongodb://127.0.0.1:${port}/?directConnection=true`, stop };
}
