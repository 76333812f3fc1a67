import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
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

/** SIGKILL of the process group whose leader's pid the file holds (an infrastructure script's server): a crash. */
export function killProcessGroup(pidFile: string): void {
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    process.kill(pid, 'SIGKILL');
  }
}

export interface ServiceProcess {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
  logFile: string;
  /** performance.now() when the process was spawned */
  startedAt: number;
  /** stdout+stderr lines so far */
  output: string[];
  /** the same lines with their arrival time (performance.now()) */
  lines: { at: number; text: string }[];
  exited: Promise<number | null>;
  /** undefined while running; then the exit code, or the signal that ended it */
  readonly exitCode: number | NodeJS.Signals | undefined;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  /** resolves performance.now() once /readyz answers 200 */
  waitReady(timeoutMs?: number): Promise<number>;
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** the first line matching, with its arrival time; fails at once when the process ended without it */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<{ at: number; text: string }>;
  metrics(): Promise<string>;
  /** /readyz now: its status and the reasons of a 503 (empty when ready) */
  readiness(): Promise<Readiness>;
}

export interface Readiness {
  status: number;
  reasons: Record<string, string>;
}

export interface StartOptions {
  /** node flags before the script (e.g. --cpu-prof) */
  nodeArgs?: string[];
  /** NODE_OPTIONS of the service (none by default) */
  nodeOptions?: string;
  /** the build to run, relative to the repository root (default services/<service>/dist): e.g. a copy of an earlier one */
  distDir?: string;
  /** where the log file goes (default .run/test-logs) */
  logDir?: string;
  /** the process's working directory (default the repository root): a "host" of its own */
  cwd?: string;
}

let counter = 0;

/** Starts a service's real entrypoint (`services/<service>/dist/main.js`) as a child process; its output goes to a log file. */
export async function startService(
  service: 'cdc' | 'processor' | 'loader' | 'console' | 'analysis-tool',
  env: Record<string, string>,
  label: string = service,
  options: StartOptions = {},
): Promise<ServiceProcess> {
  const port = await freePort();
  const dir = options.logDir ?? logDir;
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, `${label}-${process.pid}-${++counter}.log`);
  const log = createWriteStream(logFile);
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), resolve(repoRoot, options.distDir ?? join('services', service, 'dist'), 'main.js')], {
    env: { PATH: process.env.PATH ?? '', HTTP_PORT: String(port), LOG_LEVEL: 'info', ...(options.nodeOptions ? { NODE_OPTIONS: options.nodeOptions } : {}), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd ?? repoRoot,
  });
  const startedAt = performance.now();
  const output: string[] = [];
  const lines: { at: number; text: string }[] = [];
  const listeners = new Set<(line: { at: number; text: string }) => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    log.write(chunk);
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    const at = performance.now();
    for (const text of parts.filter(Boolean)) {
      output.push(text);
      lines.push({ at, text });
      for (const listener of listeners) listener({ at, text });
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | NodeJS.Signals | undefined;
  const exited = new Promise<number | null>((resolveExit) =>
    child.once('exit', (code, signal) => {
      exitCode = code ?? signal ?? undefined;
      resolveExit(code);
    }),
  );
  void exited.then(() => log.end());
  // all output read: a line not seen by then never comes
  const closed = new Promise<void>((resolveClose) => child.once('close', () => resolveClose()));

  const waitForLine = (pattern: RegExp, timeoutMs = 30000) =>
    new Promise<{ at: number; text: string }>((resolveLine, reject) => {
      const found = lines.find((line) => pattern.test(line.text));
      if (found) return resolveLine(found);
      const done = () => {
        clearTimeout(timer);
        listeners.delete(listener);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${label}: no log line matching ${pattern} within ${timeoutMs} ms (log: ${logFile})`));
      }, timeoutMs);
      const listener = (line: { at: number; text: string }) => {
        if (!pattern.test(line.text)) return;
        done();
        resolveLine(line);
      };
      listeners.add(listener);
      void closed.then(() => {
        if (!listeners.has(listener)) return;
        done();
        reject(new Error(`${label} exited (${exitCode}) while waiting for ${pattern}:\n${output.slice(-15).join('\n')}`));
      });
    });

  return {
    name: label,
    port,
    pid: child.pid!,
    child,
    logFile,
    startedAt,
    output,
    lines,
    exited,
    get exitCode() {
      return exitCode;
    },
    waitForLine,
    waitForLog: async (pattern: RegExp, timeoutMs?: number) => (await waitForLine(pattern, timeoutMs)).text,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
    async waitReady(timeoutMs = 60000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        if (exitCode !== undefined) throw new Error(`${label} exited with ${exitCode} before ready:\n${output.slice(-20).join('\n')}`);
        try {
          const res = await fetch(`http://127.0.0.1:${port}/readyz`);
          if (res.status === 200) return performance.now();
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`${label} not ready within ${timeoutMs} ms (log: ${logFile})`);
    },
    /** Retried: a service whose event loop is busy for seconds may reset a kept-alive connection. */
    async metrics() {
      for (let attempt = 1; ; attempt++) {
        try {
          return await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch (error) {
          if (attempt >= 20 || exitCode !== undefined) throw error;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
    async readiness() {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`);
      const body = (await res.json()) as { reasons?: Record<string, string> };
      return { status: res.status, reasons: body.reasons ?? {} };
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
