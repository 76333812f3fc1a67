import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// compiled to test/dist/support/
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const logDir = join(repoRoot, '.run', 'test-logs');

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface ServiceProcess {
  name: string;
  port: number;
  child: ChildProcess;
  logFile: string;
  /** stdout+stderr lines so far */
  output: string[];
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  waitReady(timeoutMs?: number): Promise<void>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  metrics(): Promise<string>;
}

let counter = 0;

/** Starts a service's real entrypoint (`services/<service>/dist/main.js`) as a child process. */
export async function startService(service: 'cdc' | 'processor' | 'loader' | 'analysis-tool', env: Record<string, string>, label: string = service): Promise<ServiceProcess> {
  const port = await freePort();
  mkdirSync(logDir, { recursive: true });
  const logFile = join(logDir, `${label}-${process.pid}-${++counter}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [join(repoRoot, 'services', service, 'dist', 'main.js')], {
    env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(port), LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: repoRoot,
  });
  const output: string[] = [];
  const listeners = new Set<(line: string) => void>();
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      output.push(line);
      for (const listener of listeners) listener(line);
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  void exited.then(() => log.end());

  const waitForLog = (pattern: RegExp, timeoutMs = 30000) =>
    new Promise<string>((resolveLine, reject) => {
      const found = output.find((line) => pattern.test(line));
      if (found) return resolveLine(found);
      const timer = setTimeout(() => {
        listeners.delete(listener);
        reject(new Error(`${label}: no log line matching ${pattern} within ${timeoutMs} ms (log: ${logFile})`));
      }, timeoutMs);
      const listener = (line: string) => {
        if (!pattern.test(line)) return;
        clearTimeout(timer);
        listeners.delete(listener);
        resolveLine(line);
      };
      listeners.add(listener);
    });

  return {
    name: label,
    port,
    child,
    logFile,
    output,
    exited,
    waitForLog,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async waitReady(timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      let exitCode: number | null | undefined;
      void exited.then((code) => (exitCode = code));
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`${label} exited with ${exitCode} before ready:\n${output.slice(-20).join('\n')}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${label} not ready within ${timeoutMs} ms (log: ${logFile})`);
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    },
  };
}

/** Value of one sample in Prometheus text output, summed over label sets matching `labels`. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labelText = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(match[3]);
  }
  return total;
}
