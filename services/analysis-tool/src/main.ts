#!/usr/bin/env node
// cdc-analysis: an interactive SQL prompt on the pipeline's BigQuery dataset, or one query for scripts.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '@cdc/core';
import { bigQueryName, createGcpClients, warehouseNames } from '@cdc/core/gcp';
import { analysisConfigSchema } from './config.js';
import { HELP, Session } from './session.js';
import { splitStatements } from './statements.js';

const USAGE = `usage: cdc-analysis [options]                 interactive prompt (or a script piped on stdin)
       cdc-analysis -e "SELECT ..." [--json]      run SQL or a \\command, print the result, exit (non-zero on errors)
options:
  -e, --query <sql>     SQL (or a \\command) to run instead of the prompt
      --json            print rows as JSON
      --dataset <name>  dataset of the ready-made commands (default BQ_DATASET or "cdc")
      --collection <c>  collection of the order commands, whose typed views they read (default "orders")
      --endpoint <url>  BigQuery endpoint (default BIGQUERY_ENDPOINT, else the local emulator)
      --gcp             use Google Cloud itself (ignore endpoints; key file or Application Default Credentials)
      --max-width <n>   cut table cells to n characters (default 60)
      --write           allow statements that change data or tables (DDL, DML, scripts); without it only
                        queries run. Every query is capped at ANALYSIS_MAX_BYTES_BILLED bytes billed
  -h, --help`;

const { values } = parseArgs({
  options: {
    query: { type: 'string', short: 'e' },
    json: { type: 'boolean', default: false },
    dataset: { type: 'string' },
    collection: { type: 'string', default: 'orders' },
    endpoint: { type: 'string' },
    gcp: { type: 'boolean', default: false },
    write: { type: 'boolean', default: false },
    'max-width': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n\n${HELP}\n`);
  process.exit(0);
}

const config = loadConfig(analysisConfigSchema);
if (values.dataset) {
  // checked like BQ_DATASET: it reaches the ready-made commands' SQL
  const problem = bigQueryName.safeParse(values.dataset).error?.issues[0]?.message;
  if (problem) {
    process.stderr.write(`--dataset: ${problem}\n`);
    process.exit(64); // EX_USAGE from sysexits.h
  }
  config.BQ_DATASET = values.dataset;
}
// The local emulator unless told otherwise (the loader and gcp-utils, in contrast, default to Google Cloud).
if (values.gcp) config.BIGQUERY_ENDPOINT = undefined;
else config.BIGQUERY_ENDPOINT = values.endpoint ?? config.BIGQUERY_ENDPOINT ?? `http://127.0.0.1:${config.BIGQUERY_PORT}`;
const maxWidth = values['max-width'] ? Number(values['max-width']) : 60;

const { bigquery } = createGcpClients(config);
const session = new Session(bigquery, warehouseNames(config), process.stdout, process.stderr, {
  json: values.json,
  maxWidth,
  location: config.BQ_LOCATION,
  collection: values.collection,
  write: values.write,
  maximumBytesBilled: config.ANALYSIS_MAX_BYTES_BILLED,
});

async function runText(text: string): Promise<boolean> {
  const trimmed = text.trim();
  if (trimmed.startsWith('\\')) return session.runCommand(trimmed);
  if (trimmed) await session.runSql(trimmed);
  return true;
}

if (values.query !== undefined) {
  await runText(values.query);
  process.exit(session.failures > 0 ? 1 : 0);
}

const interactive = Boolean(process.stdin.isTTY);
const rl = createInterface({ input: process.stdin, output: interactive ? process.stdout : undefined, terminal: interactive, historySize: 500 });
const prompt = (continued: boolean) => {
  if (!interactive) return;
  rl.setPrompt(continued ? '   ...> ' : `${config.BQ_DATASET}> `);
  rl.prompt();
};
if (interactive) {
  process.stdout.write(`BigQuery ${config.BIGQUERY_ENDPOINT ?? 'Google Cloud'}, project ${config.GCP_PROJECT}, dataset ${config.BQ_DATASET}, ${values.write ? 'read-write (--write)' : 'read-only'}. \\help for commands, \\q to quit.\n`);
}
let buffer = '';
rl.on('SIGINT', () => {
  // Ctrl+C drops the statement being typed; on an empty prompt it quits.
  if (!buffer.trim()) return rl.close();
  buffer = '';
  process.stdout.write('\n');
  prompt(false);
});
prompt(false);
let quit = false;
for await (const line of rl) {
  if (!buffer.trim() && line.trim().startsWith('\\')) {
    if (!(await session.runCommand(line))) {
      quit = true;
      break;
    }
    prompt(false);
    continue;
  }
  buffer += `${line}\n`;
  const { statements, rest } = splitStatements(buffer);
  buffer = rest.trim() ? rest : '';
  for (const statement of statements) await session.runSql(statement);
  prompt(buffer.trim() !== '');
}
// End of input: an unfinished last statement still runs.
if (!quit && buffer.trim()) await session.runSql(buffer);
rl.close();
process.exit(!interactive && session.failures > 0 ? 1 : 0);
