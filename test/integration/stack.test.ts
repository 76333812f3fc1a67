// The whole pipeline as local processes (scripts/stack.sh) and the end-to-end check (./test.sh --local):
// order-2 inserted into MongoDB must show up in the BigQuery emulator's current-state table and on the console,
// and test.sh must leave one non-empty log file per service under logs/<timestamp>/. A stack that is already running is reused
// (and left running); a stack this test starts is stopped afterwards. The local infrastructure is never stopped.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/service-process.js';

interface Run {
  code: number | null;
  output: string;
}

/** Runs a command from the repository root, collecting stdout+stderr (also echoed on failure by the callers). */
function run(command: string, args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms:\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const SERVICES = ['cdc', 'processor', 'loader', 'console'];
const needed = ['services/cdc/dist/main.js', 'services/processor/dist/main.js', 'services/loader/dist/main.js', 'services/console/dist/main.js', 'gcp-utils/dist/main.js', 'services/analysis-tool/dist/main.js'];
const missing = needed.filter((file) => !existsSync(join(repoRoot, file)));

describe('local process stack: scripts/stack.sh + ./test.sh --local', { skip: missing.length > 0 ? `not built: ${missing.join(', ')}` : false }, () => {
  let startedHere = false;

  before(async () => {
    const status = await run('bash', ['scripts/stack.sh', 'status'], 30_000);
    if (status.code === 0) return; // reuse a running stack, leave it running
    startedHere = true;
    const up = await run('bash', ['scripts/stack.sh', 'up'], 600_000);
    assert.equal(up.code, 0, `scripts/stack.sh up failed:\n${up.output.slice(-6000)}`);
  });

  after(async () => {
    if (!startedHere) return;
    const down = await run('bash', ['scripts/stack.sh', 'down'], 120_000);
    assert.equal(down.code, 0, `scripts/stack.sh down failed:\n${down.output.slice(-3000)}`);
  });

  test('order-2 reaches the current-state table and its typed view; one non-empty log per service is saved', async () => {
    const result = await run('bash', ['test.sh', '--local', '--timeout', '240', 'data-samples/order-2.json'], 300_000);
    assert.equal(result.code, 0, `./test.sh --local failed:\n${result.output.slice(-6000)}`);
    assert.match(result.output, /PASS: order [0-9a-f]{24} is in /);
    assert.match(result.output, /PASS: typed view of orders: .*"_id": "[0-9a-f]{24}"/);
    assert.match(result.output, /console http:\/\/127\.0\.0\.1:\d+\/ shows the change: "name":"shop\.orders".*"freshnessSeconds":\d/);

    const logsLine = /\[test\] logs: (logs\/\S+)/.exec(result.output);
    assert.ok(logsLine, `test.sh did not say where the logs are:\n${result.output.slice(-2000)}`);
    const dir = join(repoRoot, logsLine[1]!);
    const files = readdirSync(dir);
    for (const service of SERVICES) {
      assert.ok(files.includes(`${service}.log`), `${service}.log missing in ${dir} (found: ${files.join(', ')})`);
      assert.ok(statSync(join(dir, `${service}.log`)).size > 0, `${service}.log is empty`);
    }
    for (const file of files) assert.ok(statSync(join(dir, file)).size > 0, `${file} is empty`);
  });

  test('a service killed with SIGKILL is started again by the next `stack.sh up` at once', async () => {
    const pid = Number(readFileSync(join(repoRoot, '.run/stack/cdc.pid'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    const up = await run('bash', ['scripts/stack.sh', 'up'], 300_000);
    assert.equal(up.code, 0, `scripts/stack.sh up after a SIGKILL failed:\n${up.output.slice(-4000)}`);
    assert.match(up.output, /started cdc \(pid \d+/);
    const restarted = Number(readFileSync(join(repoRoot, '.run/stack/cdc.pid'), 'utf8').trim());
    assert.notEqual(restarted, pid);
  });

  test('the stack reports every service ready', async () => {
    const status = await run('bash', ['scripts/stack.sh', 'status'], 30_000);
    assert.equal(status.code, 0, status.output);
    for (const service of SERVICES) assert.match(status.output, new RegExp(`^${service}: ready`, 'm'));
  });
});

// A process killed but not yet reaped by its parent (a zombie) still answers kill -0; the scripts must not take it
// for a running service (scripts/lib/process.sh). Here the zombie's parent is a process that never reaps it.
test('pid_alive: a zombie is not alive, a running process is', async () => {
  const parent = spawn('bash', ['-c', 'sleep 0.2 & exec sleep 20'], { stdio: 'ignore' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const check = await run('bash', ['-c', `source scripts/lib/process.sh
      child="$(ps -o pid= --ppid ${parent.pid} | tr -d ' ')"
      [[ -n "$child" ]] || { echo "no child"; exit 1; }
      echo "state=$(ps -o stat= -p "$child")"
      kill -0 "$child" && echo "kill0=yes"
      pid_alive "$child" && echo "child=alive" || echo "child=dead"
      pid_alive ${parent.pid} && echo "parent=alive" || echo "parent=dead"`], 30_000);
    assert.equal(check.code, 0, check.output);
    assert.match(check.output, /state=Z/, 'the test needs a zombie');
    assert.match(check.output, /kill0=yes/);
    assert.match(check.output, /child=dead/);
    assert.match(check.output, /parent=alive/);
  } finally {
    parent.kill('SIGKILL');
  }
});
