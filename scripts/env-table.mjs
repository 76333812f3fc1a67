// Prints the README's configuration table from .env.example (the one place every variable is documented).
import { readFileSync } from 'node:fs';

const lines = readFileSync(new URL('../.env.example', import.meta.url), 'utf8').split('\n');
const out = [];
let section = '';
let comment = [];
// Variables listed right under another one without a comment of their own share its comment.
let shared = '';
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  if (/^# -{10,}/.test(line)) {
    section = lines[i + 1].replace(/^#\s*/, '');
    out.push('', `**${section}**`, '', '| variable | default | meaning |', '|---|---|---|');
    i += 2;
    comment = [];
    continue;
  }
  if (line.startsWith('#')) {
    comment.push(line.replace(/^#\s?/, ''));
    continue;
  }
  const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
  if (match && section) {
    const value = match[2] === '' ? '(empty)' : `\`${match[2]}\``;
    if (comment.length > 0) shared = comment.join(' ').replaceAll('|', '\\|');
    out.push(`| \`${match[1]}\` | ${value} | ${comment.length > 0 ? shared : shared && `(as above) ${shared}`} |`);
  } else if (line.trim() === '') {
    shared = '';
  }
  comment = [];
}
process.stdout.write(`${out.join('\n').trim()}\n`);
