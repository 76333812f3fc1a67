#!/usr/bin/env node
// Project policy for Dockerfiles (hadolint checks style; this checks what we require of every image):
//  - every base image (FROM, COPY --from) pinned to an exact version (x.y.z tag, or a digest), never `latest` or a
//    bare name;
//  - every target, i.e. the last stage and every stage that no other stage builds on or copies from, runs as a
//    named non-root USER and declares a HEALTHCHECK (inherited from the stage it builds on counts); a target that
//    EXPOSEs a port probes it (HEALTHCHECK CMD, not NONE);
//  - no secret baked in: no ENV/ARG named like a secret with a value, no .env or key files copied;
//  - with --compose CONFIG.json (a resolved `docker compose config --format json`, repeatable), every compose
//    service built from one of the FILEs: names an existing target, passes every build argument that target needs
//    (declared without a default), passes no secret-looking build argument, gets a SERVICE argument (when the
//    Dockerfile declares one) that is an npm workspace folder of the build context, and, when it is long-running
//    (restart other than "no"), is built from a target with a HEALTHCHECK CMD.
//   node scripts/lint/dockerfile-policy.mjs [--compose CONFIG.json]... FILE...   (exit 1, one line per problem)
import { existsSync, readFileSync } from 'node:fs';
import { join, normalize, resolve } from 'node:path';

const SECRET_NAME = /(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|API_KEY|CREDENTIALS)/i;
const args = process.argv.slice(2);
const composeFiles = [];
const dockerfiles = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--compose') composeFiles.push(args[++i]);
  else dockerfiles.push(args[i]);
}
let failures = 0;
const report = (where, problem) => {
  console.error(`${where}: ${problem}`);
  failures++;
};

function pinProblem(image) {
  const digest = /@sha256:[0-9a-f]{64}$/.test(image);
  const tag = /:([^/@]+)(@.*)?$/.exec(image)?.[1];
  if (image.includes('$')) return `base image from a variable (${image}) cannot be checked; write it out`;
  if (!digest && !tag) return `base image ${image} has no tag (means latest)`;
  if (tag === 'latest') return `base image ${image} uses latest`;
  if (!digest && !/\d+\.\d+\.\d+/.test(tag)) return `base image ${image} is not pinned to an exact x.y.z version`;
  return null;
}

/** NAME[=value] pairs of an ENV or ARG instruction (value undefined when there is no `=`) */
const assignments = (rest) => [...rest.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|'[^']*'|\S*))?/g)].map(([, name, value]) => ({ name, value }));
const isEmpty = (value) => value === undefined || value === '' || value === '""' || value === "''";

/** checks one Dockerfile; returns its targets (name -> resolved stage) and global ARG defaults for --compose */
function checkDockerfile(file) {
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

  const stages = []; // { name, parent, user, healthcheck: 'cmd'|'none'|null, exposes, args: Map(name -> hasDefault), uses: Set }
  const byName = new Map();
  const globalArgs = new Map();
  const stageRef = (ref) => byName.get(ref.toLowerCase()) ?? (/^\d+$/.test(ref) ? stages[Number(ref)] : undefined);
  let stage = null;
  for (const { keyword, rest, n } of instructions) {
    if (keyword === 'FROM') {
      const words = rest.split(/\s+/).filter((w) => !w.startsWith('--'));
      const image = words[0] ?? '';
      const alias = /^as$/i.test(words[1] ?? '') ? words[2] : undefined;
      const parent = stageRef(image);
      if (!parent) {
        const problem = pinProblem(image);
        if (problem) problems.push(`line ${n}: ${problem}`);
      }
      stage = { name: alias ?? String(stages.length), n, parent, user: null, healthcheck: null, exposes: false, args: new Map(), uses: new Set(parent ? [parent] : []) };
      stages.push(stage);
      if (alias) byName.set(alias.toLowerCase(), stage);
    } else if (!stage) {
      if (keyword !== 'ARG') problems.push(`line ${n}: ${keyword} before the first FROM`);
      for (const { name, value } of assignments(rest)) {
        if (SECRET_NAME.test(name) && !isEmpty(value)) problems.push(`line ${n}: ARG ${name} bakes a secret-looking value into the image`);
        globalArgs.set(name, !isEmpty(value));
      }
    } else if (keyword === 'USER') {
      stage.user = rest.split(':')[0];
    } else if (keyword === 'HEALTHCHECK') {
      stage.healthcheck = /^NONE$/i.test(rest.trim()) ? 'none' : 'cmd';
    } else if (keyword === 'EXPOSE') {
      stage.exposes = true;
    } else if (keyword === 'ENV' || keyword === 'ARG') {
      for (const { name, value } of assignments(rest)) {
        if (SECRET_NAME.test(name) && !isEmpty(value)) {
          problems.push(`line ${n}: ${keyword} ${name} bakes a secret-looking value into the image`);
        }
        if (keyword === 'ARG') stage.args.set(name, !isEmpty(value) || globalArgs.get(name) === true);
      }
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      const from = /(?:^|\s)--from=(\S+)/.exec(rest)?.[1];
      if (from) {
        const source = stageRef(from);
        if (source) stage.uses.add(source);
        else {
          const problem = pinProblem(from);
          if (problem) problems.push(`line ${n}: COPY --from: ${problem}`);
        }
      }
      if (/(^|\s|\/)\.env(\s|$)|\.pem(\s|$)|\.key(\s|$)|credentials[^\s]*\.json/.test(rest)) {
        problems.push(`line ${n}: ${keyword} copies a secret file (${rest})`);
      }
    }
  }

  const targets = new Map();
  if (stages.length === 0) problems.push('no FROM');
  const usedByOthers = new Set(stages.flatMap((s) => [...s.uses]));
  const inherited = (s, key) => (s[key] ?? (s.parent ? inherited(s.parent, key) : null));
  const exposes = (s) => s.exposes || (s.parent ? exposes(s.parent) : false);
  stages.forEach((s, i) => {
    if (usedByOthers.has(s) && i !== stages.length - 1) return;
    const where = `target ${s.name} (line ${s.n})`;
    const user = inherited(s, 'user');
    const healthcheck = inherited(s, 'healthcheck');
    if (!user) problems.push(`${where} has no USER (would run as root)`);
    else if (/^(root|0)$/.test(user)) problems.push(`${where} runs as ${user}`);
    if (!healthcheck) problems.push(`${where} has no HEALTHCHECK (write HEALTHCHECK NONE for a command-line tool)`);
    else if (healthcheck === 'none' && exposes(s)) problems.push(`${where} EXPOSEs a port but has HEALTHCHECK NONE`);
    // build arguments this target needs: declared without a default in a stage it is built from
    const required = new Set();
    const seen = new Set();
    const walk = (t) => {
      if (seen.has(t)) return;
      seen.add(t);
      for (const [name, hasDefault] of t.args) if (!hasDefault) required.add(name);
      for (const u of t.uses) walk(u);
    };
    walk(s);
    targets.set(s.name, { healthcheck, required, last: i === stages.length - 1 });
  });
  for (const p of problems) report(file, p);
  return { targets, declaresService: globalArgs.has('SERVICE') || stages.some((s) => s.args.has('SERVICE')) };
}

const checked = new Map(dockerfiles.map((file) => [resolve(file), { file, ...checkDockerfile(file) }]));

for (const configFile of composeFiles) {
  const config = JSON.parse(readFileSync(configFile, 'utf8'));
  for (const [name, service] of Object.entries(config.services ?? {})) {
    const build = service.build;
    if (!build) continue;
    const context = resolve(build.context ?? '.');
    const dockerfile = checked.get(resolve(context, build.dockerfile ?? 'Dockerfile'));
    if (!dockerfile) continue;
    const where = `compose service ${name} (${dockerfile.file})`;
    const buildArgs = build.args ?? {};
    const target = build.target
      ? dockerfile.targets.get(build.target)
      : [...dockerfile.targets.values()].find((t) => t.last);
    if (!target) {
      report(where, `target ${build.target} is not a target of the Dockerfile (${[...dockerfile.targets.keys()].join(', ')})`);
      continue;
    }
    for (const arg of target.required) {
      if (isEmpty(buildArgs[arg])) report(where, `build argument ${arg} is needed by target ${build.target ?? '(last stage)'}`);
    }
    for (const [arg, value] of Object.entries(buildArgs)) {
      if (SECRET_NAME.test(arg) && !isEmpty(value)) report(where, `build argument ${arg} would bake a secret-looking value into the image`);
    }
    if (dockerfile.declaresService && !isEmpty(buildArgs.SERVICE)) {
      const folder = normalize(buildArgs.SERVICE).replace(/\/+$/, '');
      let workspaces = [];
      try {
        workspaces = (JSON.parse(readFileSync(join(context, 'package.json'), 'utf8')).workspaces ?? []).map((w) => normalize(w).replace(/\/+$/, ''));
      } catch {
        // no root package.json: reported below
      }
      if (!workspaces.includes(folder) || !existsSync(join(context, folder, 'package.json'))) {
        report(where, `SERVICE=${buildArgs.SERVICE} is not an npm workspace folder of ${context}`);
      }
    }
    if (service.restart !== 'no' && target.healthcheck !== 'cmd') {
      report(where, `long-running (restart ${service.restart ?? 'unset'}) but target ${build.target ?? '(last stage)'} has no HEALTHCHECK CMD`);
    }
  }
}
if (failures > 0) process.exit(1);
