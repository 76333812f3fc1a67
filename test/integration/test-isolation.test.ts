// npm test runs the test files side by side on one shared local infrastructure (scripts/test.sh), which holds only
// while no test stops or kills a shared server: a test that needs a server to go away takes one of its own
// (test/support/private-kafka.ts, private-mongo.ts). This reads every test source for the ways of stopping one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../support/service-process.js';

// the helpers that start and stop a server of a test's own, with the same scripts as the shared one; this file's examples
const ALLOWED = new Set(['test/support/private-kafka.ts', 'test/support/private-mongo.ts', 'test/support/private-bigquery.ts', 'test/integration/test-isolation.test.ts']);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'dist' || entry.name === 'node_modules' ? [] : sources(path);
    return /\.(ts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

/** what in a source stops or kills a server of scripts/infra.sh, or null */
function stopsSharedServer(source: string): string | null {
  const script = /(infra|kafka|mongo|gcs|bigquery)\.sh['"]|['"]infra['"],\s*['"](kafka|mongo|gcs|bigquery)\.sh/.exec(source);
  if (script && /['"](down|stop)['"]/.test(source)) return `runs ${script[0]} with 'down'`;
  if (/['"]\.run['"][^\n]*['"](kafka|mongo|gcs|bigquery)['"],\s*['"]pid['"]|\.run\/(kafka|mongo|gcs|bigquery)\/pid/.test(source)) return 'reads a shared server\'s pid file';
  return null;
}

test('the check sees the ways a test stopped the shared broker before', () => {
  assert.ok(stopsSharedServer("const s = join(repoRoot, 'scripts', 'infra.sh');\nexecFileSync('bash', [s, 'down', 'kafka']);"));
  assert.ok(stopsSharedServer("readFileSync(join(process.env.CDC_RUN_DIR ?? join(repoRoot, '.run'), 'kafka', 'pid'))"));
  assert.equal(stopsSharedServer("execFileSync('bash', [join(repoRoot, 'scripts', 'infra.sh'), 'up', 'kafka'])"), null);
});

test('no test stops or kills a server of the shared local infrastructure', () => {
  const offenders = sources(join(repoRoot, 'test'))
    .map((path) => relative(repoRoot, path))
    .filter((path) => !ALLOWED.has(path))
    .map((path) => [path, stopsSharedServer(readFileSync(join(repoRoot, path), 'utf8'))] as const)
    .filter(([, what]) => what !== null)
    .map(([path, what]) => `${path}: ${what} (use a server of the test's own: test/support/private-kafka.ts)`);
  assert.deepEqual(offenders, []);
});
