// scripts/lib/prerequisites.sh: the one list of Debian packages the scripts need. What is present is left alone; a
// missing one makes a non-root user stop with the exact command to run (as root it would be installed, named first,
// which the pristine set-up of npm run test:docker proves on a Debian root with nothing in it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../support/service-process.js';

// The library's text goes in with the script: another user may not be allowed to read the clone.
const library = readFileSync(join(repoRoot, 'scripts/lib/prerequisites.sh'), 'utf8');

function prerequisites(script: string, asUser?: string): { code: number | null; output: string } {
  const program = `${library}\n${script}`;
  const command = asUser ? ['setpriv', `--reuid=${asUser}`, `--regid=${asUser}`, '--clear-groups', 'bash', '-c', program] : ['bash', '-c', program];
  const result = spawnSync(command[0]!, command.slice(1), { cwd: '/', encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, output: `${result.stdout}${result.stderr}` };
}

test('every group and probe of the list is known, and each line names one Debian package', () => {
  const result = prerequisites('sed "/^$/d" <<<"$PREREQUISITES"');
  assert.equal(result.code, 0, result.output);
  const lines = result.output.trim().split('\n');
  assert.ok(lines.length >= 20, `a list of ${lines.length} lines`);
  for (const line of lines) assert.match(line, /^[a-z-]+\s+(cmd|deb|py):\S+\s+[a-z0-9][a-z0-9.+-]*$/, line);
});

test('what is present is not installed again: bash and ps are found', () => {
  const result = prerequisites(
    'PREREQUISITES="t cmd:bash bash\nt cmd:ps procps"; require_prerequisites t && echo ok',
  );
  assert.equal(result.code, 0, result.output);
  assert.equal(result.output.trim(), 'ok');
});

test('without root, a missing package stops the script with the exact command to run', { skip: process.getuid?.() !== 0 ? 'needs root to switch to another user' : false }, () => {
  const result = prerequisites(
    'PREREQUISITES="t cmd:no-such-tool-here no-such-package\nt cmd:bash bash"; require_prerequisites t',
    '65534',
  );
  assert.equal(result.code, 1, result.output);
  assert.match(result.output, /missing Debian packages: no-such-package\n/);
  assert.match(result.output, /run: sudo apt-get update && sudo apt-get install -y --no-install-recommends no-such-package\n/);
});

test('an unknown group is refused', () => {
  const result = prerequisites('require_prerequisites no-such-group');
  assert.equal(result.code, 2, result.output);
  assert.match(result.output, /unknown group no-such-group/);
});
