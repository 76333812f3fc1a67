#!/usr/bin/env node
// Project policy for Dockerfiles (hadolint checks style; this checks what we require of every image):
//  - every base image pinned to an exact version (x.y.z tag, or a digest), never `latest` or a bare name;
//  - the final stage runs as a named non-root USER;
//  - the final stage declares a HEALTHCHECK;
//  - no secret baked in: no ENV/ARG named like a secret with a value, no .env or key files copied.
//   node scripts/lint/dockerfile-policy.mjs FILE...    (exit 1 and one line per problem when any)
import { readFileSync } from 'node:fs';

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS)/i;
let failures = 0;

for (const file of process.argv.slice(2)) {
  const problems = [];
  // join continuation lines, drop comments and blank lines
  const text = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  const instructions = text
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), n: i + 1 }))
    .filter(({ line }) => line && !line.startsWith('#'))
    .map(({ line, n }) => {
      const [, keyword = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
      return { keyword: keyword.toUpperCase(), rest, n };
    });

  const stages = new Set();
  let stage = null;
  for (const { keyword, rest, n } of instructions) {
    if (keyword === 'FROM') {
      const words = rest.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0] ?? '';
      const alias = /^as$/i.test(words[1] ?? '') ? words[2] : undefined;
      if (!stages.has(image)) {
        const digest = /@sha256:[0-9a-f]{64}$/.test(image);
        const tag = /:([^/@]+)(@.*)?$/.exec(image)?.[1];
        if (image.includes('$')) problems.push(`line ${n}: base image from a variable (${image}) cannot be checked; write it out`);
        else if (!digest && !tag) problems.push(`line ${n}: base image ${image} has no tag (means latest)`);
        else if (tag === 'latest') problems.push(`line ${n}: base image ${image} uses latest`);
        else if (!digest && !/\d+\.\d+\.\d+/.test(tag)) problems.push(`line ${n}: base image ${image} is not pinned to an exact x.y.z version`);
      }
      if (alias) stages.add(alias);
      stage = { user: null, healthcheck: false };
    } else if (!stage) {
      if (keyword !== 'ARG') problems.push(`line ${n}: ${keyword} before the first FROM`);
    } else if (keyword === 'USER') {
      stage.user = rest.split(':')[0];
    } else if (keyword === 'HEALTHCHECK') {
      stage.healthcheck = true;
    } else if (keyword === 'ENV' || keyword === 'ARG') {
      for (const [, name, value] of rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)) {
        if (SECRET_NAME.test(name) && value !== undefined && value !== '' && value !== '""' && value !== "''") {
          problems.push(`line ${n}: ${keyword} ${name} bakes a secret-looking value into the image`);
        }
      }
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      if (/(^|\s|\/)\.env(\s|$)|\.pem(\s|$)|\.key(\s|$)|credentials[^\s]*\.json/.test(rest)) {
        problems.push(`line ${n}: ${keyword} copies a secret file (${rest})`);
      }
    }
  }
  if (!stage) problems.push('no FROM');
  else {
    if (!stage.user) problems.push('final stage has no USER (would run as root)');
    else if (/^(root|0)$/.test(stage.user)) problems.push(`final stage runs as ${stage.user}`);
    if (!stage.healthcheck) problems.push('final stage has no HEALTHCHECK');
  }
  for (const p of problems) console.error(`${file}: ${p}`);
  failures += problems.length;
}
if (failures > 0) process.exit(1);
