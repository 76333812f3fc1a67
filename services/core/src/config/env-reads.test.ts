import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// A variable is read through its declaration (`setting.*` in a config.ts, parsed by parseConfig) so that it is
// checked at start and documented in .env.example and the README. This fails on a direct read of the environment
// anywhere else in the services' source, unless it is listed here with the reason.
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const SOURCE_DIRS = [...readdirSync(join(ROOT, 'services')).map((service) => `services/${service}/src`), 'gcp-utils/src'];

/** `process.env.NAME` reads allowed outside the declarations, with the reason. */
const ALLOWED_READS: Record<string, string> = {};
/** Files that use the whole environment, with the reason. */
const WHOLE_ENVIRONMENT: Record<string, string> = {
  'services/core/src/config/load-config.ts': 'parseConfig takes the declared variables out of it',
};

/** Each direct use of the environment in `text`: the variable read, or undefined for the whole environment. */
function envReads(text: string): { name: string | undefined; index: number }[] {
  return [...text.matchAll(/process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*['"`]([^'"`]+)['"`]\s*\])?/g)].map((m) => ({ name: m[1] ?? m[2], index: m.index }));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('the services read no environment variable except through its declaration', () => {
  const problems: string[] = [];
  let files = 0;
  for (const dir of SOURCE_DIRS) {
    for (const path of sourceFiles(join(ROOT, dir))) {
      files += 1;
      const file = relative(ROOT, path);
      const text = readFileSync(path, 'utf8');
      for (const { name, index } of envReads(text)) {
        if (name ? name in ALLOWED_READS : file in WHOLE_ENVIRONMENT) continue;
        const line = text.slice(0, index).split('\n').length;
        problems.push(`${file}:${line}: ${name ? `process.env.${name}` : 'process.env'}: declare it with setting.* in the service's config.ts and read it from the parsed config`);
      }
    }
  }
  assert.ok(files > 50, `only ${files} source files found under ${SOURCE_DIRS.join(', ')}`);
  assert.deepEqual(problems, []);
});

test('the check finds a direct read', () => {
  const text = 'const level = process.env.SOME_LEVEL ?? process.env["OTHER"]; const { A } = process.env;';
  assert.deepEqual(envReads(text).map((read) => read.name), ['SOME_LEVEL', 'OTHER', undefined]);
});
