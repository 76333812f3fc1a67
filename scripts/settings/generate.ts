#!/usr/bin/env node
// Writes .env.example, the README's settings tables (between <!-- settings:begin --> and <!-- settings:end -->) and
// the variables compose passes from .env to each service (between `# settings:begin NAME` and `# settings:end` in
// compose/*.yml) from the settings' declarations, the one place each variable is described:
//   npm run settings:generate                          (tsc -b, then node scripts/settings/dist/generate.js)
//   node scripts/settings/dist/generate.js --out DIR   write the files into DIR instead (the static checks
//                                                      compare them with the committed ones)
// Every variable a service's config schema holds must be in one of the sections below: a new one that is not
// fails here, naming it.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual, parseArgs } from 'node:util';
import { commonSettings, kafkaConsumerSettings, kafkaSettings, kafkaTransactionSettings, readinessSettings, topicSettings, type Setting, type Settings } from '@cdc/core';
import { gcpSettings } from '@cdc/core/gcp';
import { cdcConfigSchema, cdcSettings } from '@cdc/cdc/dist/config.js';
import { processorConfigSchema, processorSettings } from '@cdc/processor/dist/config.js';
import { loaderConfigSchema, loaderSettings } from '@cdc/loader/dist/config.js';
import { analysisConfigSchema, analysisToolSettings } from '@cdc/analysis-tool/dist/config.js';
import { consoleConfigSchema, consoleSettings } from '@cdc/console/dist/config.js';
import { gcpSetupConfigSchema } from '@cdc/gcp-utils/dist/config.js';
import { composeSettings, containerLimitSettings, gcpRoleKeySettings, haPortSettings, kafkaBrokerSettings, mongoServerSettings, publishedPortSettings, serviceLogLevelSettings } from './deployment.js';

const GENERATE_COMMAND = 'npm run settings:generate';
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WIDTH = 115;

/** The programs that parse their environment, by the name the docs give them. */
const programs: Record<string, { shape: Record<string, unknown> }> = {
  cdc: cdcConfigSchema,
  processor: processorConfigSchema,
  loader: loaderConfigSchema,
  console: consoleConfigSchema,
  'gcp-utils': gcpSetupConfigSchema,
  'analysis tool': analysisConfigSchema,
};

interface Section {
  title: string;
  /** guidance of the section that is about no single variable */
  intro?: string[];
  settings: Settings;
}

const sections: Section[] = [
  { title: 'Deployment (docker compose)', settings: { ...composeSettings, ...publishedPortSettings, ...analysisToolSettings, ...haPortSettings } },
  { title: 'Container limits (docker compose)', settings: containerLimitSettings },
  { title: 'MongoDB (compose: mongo:8.0 replica set with authentication; local: the stand-in, no authentication)', settings: mongoServerSettings },
  { title: 'Kafka brokers (compose: apache/kafka 4.4.0, KRaft; local: the same version from scripts/infra/kafka.sh)', settings: kafkaBrokerSettings },
  { title: 'Kafka clients (every service)', settings: { ...kafkaSettings, ...kafkaTransactionSettings, ...kafkaConsumerSettings, ...topicSettings } },
  { title: 'Every service', settings: { ...commonSettings, ...serviceLogLevelSettings, ...readinessSettings } },
  { title: 'cdc: MongoDB change streams -> Kafka', settings: cdcSettings },
  { title: 'processor: Kafka CDC topics -> Parquet files (compose: in the shared parquet-data volume, or a bucket)', settings: processorSettings },
  { title: 'loader: Parquet files -> Cloud Storage -> BigQuery (changes table + current-state table by MERGE)', settings: loaderSettings },
  { title: 'console: one page with the pipeline\'s health, freshness, throughput, lag, budget and dead letters', settings: consoleSettings },
  {
    title: 'Google Cloud (loader, gcp-utils setup, analysis tool, console; the processor with a bucket output)',
    intro: [
      'Without credentials deploy.sh runs the emulators (compose/gcp-emulators.yml) and points everything at them.',
      'Least privilege: one service account per role (README "Security"), GCP_SETUP/LOADER/ANALYSIS_CREDENTIALS.',
    ],
    settings: { ...gcpSettings, ...gcpRoleKeySettings },
  },
];

const ENV_HEADER = `# Configuration of the pipeline: copy to .env and adjust (deploy.sh creates .env from this file on its first
# run, with random passwords). .env is never committed and never enters an image.
# One file for both ways of running the pipeline:
#   ./deploy.sh            docker compose (compose/*.yml read these variables)
#   scripts/stack.sh up    local processes (endpoints forced to the local infrastructure, see the script)
# Empty value = the service's default. Values are literal: no \${VAR} expansion, no shell syntax.
# Per-service values of names every service has (HTTP_PORT, KAFKA_CLIENT_ID, LOG_LEVEL) are set with a
# service prefix here (CDC_HTTP_PORT, ...); deploy.sh and stack.sh hand each service its own.
# Generated from the settings' declarations by \`${GENERATE_COMMAND}\`: change those, not this file.
`;

interface Row {
  name: string;
  declared: Setting;
  usedBy: string;
}

/** Why what the docs say of a declaration is not what its parser does, or null. */
function declarationProblem(name: string, declared: Setting): string | null {
  const unset = declared.schema.safeParse(undefined);
  if (declared.default !== undefined && !isDeepStrictEqual(unset, declared.schema.safeParse(declared.default))) {
    return `${name}: its documented default ${declared.default} is not what an unset variable parses to`;
  }
  if (declared.required === unset.success) return `${name}: declared ${declared.required ? '' : 'not '}required, but its parser says otherwise`;
  if (declared.example && !declared.schema.safeParse(declared.example).success) return `${name}: its .env.example value ${declared.example} does not parse`;
  return null;
}

/**
 * Each section's rows with who reads them; fails when a program's variable is in no section, or a declaration's
 * documented default is not its parser's.
 */
function rowsOf(): Map<Section, Row[]> {
  const documented = new Set<unknown>();
  const rows = new Map<Section, Row[]>();
  for (const section of sections) {
    rows.set(
      section,
      Object.entries(section.settings).map(([name, declared]) => {
        documented.add(declared.schema);
        const problem = declarationProblem(name, declared);
        if (problem) throw new Error(problem);
        const readers = Object.entries(programs).filter(([, schema]) => schema.shape[name] === declared.schema).map(([program]) => program);
        if (declared.readBy) readers.push(declared.readBy);
        if (readers.length === 0) throw new Error(`${name} (section "${section.title}") is read by no program and has no readBy`);
        return { name, declared, usedBy: readers.join(', ') };
      }),
    );
  }
  for (const [program, schema] of Object.entries(programs)) {
    for (const [name, field] of Object.entries(schema.shape)) {
      if (!documented.has(field)) throw new Error(`${program} reads ${name}, which is in no section of scripts/settings/generate.ts: add its settings there`);
    }
  }
  return rows;
}

function wrap(text: string, prefix: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && prefix.length + line.length + 1 + word.length > WIDTH) {
      lines.push(prefix + line);
      line = word;
    } else {
      line = line ? `${line} ${word}` : word;
    }
  }
  if (line) lines.push(prefix + line);
  return lines;
}

const secretNote = (declared: Setting) => (declared.secret ? ' (secret: never printed)' : '');

const RULE = `# ${'-'.repeat(111)}`;

function envFile(rows: Map<Section, Row[]>): string {
  const out = [ENV_HEADER];
  const written = new Set<string>();
  for (const [section, sectionRows] of rows) {
    out.push(RULE, `# ${section.title}`, RULE);
    for (const line of section.intro ?? []) out.push(...wrap(line, '# '));
    for (const { name, declared } of sectionRows) {
      if (declared.envFileName === null) continue;
      const key = declared.envFileName ?? name;
      if (written.has(key)) throw new Error(`${key} is declared twice`);
      written.add(key);
      const choices = declared.choices ? `${declared.choices.join(' | ')}: ` : '';
      out.push(...wrap(`${choices}${declared.description}${secretNote(declared)}`, '# '), `${key}=${declared.example ?? declared.default ?? ''}`);
    }
    out.push('');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

const cell = (text: string) => text.replaceAll('|', '\\|');

function readmeTables(rows: Map<Section, Row[]>): string {
  const out = ['<details><summary>All variables</summary>'];
  for (const [section, sectionRows] of rows) {
    out.push('', `**${section.title}**`, '');
    for (const line of section.intro ?? []) out.push(line, '');
    out.push('| variable | default | values | read by | meaning |', '|---|---|---|---|---|');
    for (const { name, declared, usedBy } of sectionRows) {
      let value = declared.default === undefined ? (declared.required ? '(required)' : '(none)') : `\`${declared.default}\``;
      if (declared.example !== undefined && declared.example !== '') value += ` (.env.example: \`${declared.example}\`)`;
      const inEnv = declared.envFileName ? ` (in .env: \`${declared.envFileName}\`)` : declared.envFileName === null ? ' (not in .env: set per process)' : '';
      out.push(`| \`${name}\`${inEnv} | ${value} | ${cell(declared.values)} | ${usedBy} | ${cell(declared.description)}${secretNote(declared)} |`);
    }
  }
  out.push('', '</details>');
  return out.join('\n');
}

const BEGIN = '<!-- settings:begin -->';
const END = '<!-- settings:end -->';

function withTables(readme: string, tables: string): string {
  const begin = readme.indexOf(BEGIN);
  const end = readme.indexOf(END);
  if (begin < 0 || end < begin) throw new Error(`README.md: no ${BEGIN} ... ${END} markers`);
  return `${readme.slice(0, begin + BEGIN.length)}\n${tables}\n${readme.slice(end)}`;
}

/** The compose files whose services' environment carries generated pass-through blocks. */
const COMPOSE_FILES = ['compose/cdc.yml', 'compose/process.yml'];
const COMPOSE_BEGIN = /^( +)# settings:begin ([a-z-]+)\b.*$/;
const COMPOSE_END = /^ +# settings:end\b/;
/** What a block passes: a program's variables, or the Google Cloud ones the services share (x-gcp-env). */
const isPath = (declared: Setting) => /\bpath\b/.test(declared.values);
const composeBlocks: Record<string, { shape: Record<string, unknown> }> = { ...programs, gcp: { shape: Object.fromEntries(Object.entries(gcpSettings).map(([name, s]) => [name, s.schema])) } };

/**
 * A compose file with each `# settings:begin NAME` block rewritten: every variable of NAME that `.env` has, passed
 * through as `VAR: ${ENV_NAME:-}` (empty: the service's default). Left out: what the same environment sets outside
 * the block (fixed for the compose network: endpoints, the Kafka login, per-service names), what it merges from
 * x-gcp-env, variables never in `.env` (per process, test hooks) and file paths: a path in `.env` is one of this
 * host, and inside a container the file is where an overlay mounts it (compose/mongo-tls.yml, gcp-credentials.yml…).
 */
function composeWithBlocks(file: string, text: string, declared: Map<unknown, { name: string; setting: Setting }>): string {
  const lines = text.split('\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const begin = COMPOSE_BEGIN.exec(lines[i]!);
    if (!begin) {
      out.push(lines[i]!);
      continue;
    }
    const [, indent, block] = begin as unknown as [string, string, string];
    const program = composeBlocks[block];
    if (!program) throw new Error(`${file}: settings block of unknown program ${block}`);
    const end = lines.findIndex((line, k) => k > i && COMPOSE_END.test(line));
    if (end < 0) throw new Error(`${file}: settings block ${block} without # settings:end`);
    // the environment mapping around the block: the lines of its indentation before and after it
    const atIndent = (line: string) => line.startsWith(indent) && !line.startsWith(`${indent} `);
    let first = i;
    while (first > 0 && atIndent(lines[first - 1]!)) first--;
    let last = end;
    while (last + 1 < lines.length && atIndent(lines[last + 1]!)) last++;
    const outside = [...lines.slice(first, i), ...lines.slice(end + 1, last + 1)];
    const fixed = new Set(outside.map((line) => /^ +([A-Z][A-Z0-9_]*):/.exec(line)?.[1]).filter(Boolean));
    const mergesGcp = outside.some((line) => line.trim() === '<<: *gcp-env');
    out.push(lines[i]!);
    for (const [name, field] of Object.entries(program.shape)) {
      const found = declared.get(field);
      if (!found) throw new Error(`${file}: ${block} reads ${name}, which no section declares`);
      if (found.setting.envFileName === null || fixed.has(name) || isPath(found.setting) || (mergesGcp && name in gcpSettings)) continue;
      out.push(`${indent}${name}: \${${found.setting.envFileName ?? name}:-}`);
    }
    out.push(lines[end]!);
    i = end;
  }
  return out.join('\n');
}

const { values } = parseArgs({ options: { out: { type: 'string' } } });
const outDir = values.out ?? ROOT;
const rows = rowsOf();
const readme = withTables(readFileSync(join(ROOT, 'README.md'), 'utf8'), readmeTables(rows));
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, '.env.example'), envFile(rows));
writeFileSync(join(outDir, 'README.md'), readme);
const declared = new Map([...rows.values()].flat().map((row) => [row.declared.schema as unknown, { name: row.name, setting: row.declared }]));
mkdirSync(join(outDir, 'compose'), { recursive: true });
for (const file of COMPOSE_FILES) writeFileSync(join(outDir, file), composeWithBlocks(file, readFileSync(join(ROOT, file), 'utf8'), declared));
