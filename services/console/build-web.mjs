#!/usr/bin/env node
// Bundles the console's page (web/app.ts with uPlot) into dist/public: app.js, app.css (uPlot's styles and ours)
// and index.html. Run after tsc by the project's build (scripts/lib/setup.sh, the Dockerfile).
import { mkdir, readFile, writeFile, copyFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const here = new URL('./', import.meta.url);
const out = new URL('dist/public/', here);
await mkdir(out, { recursive: true });
await build({
  entryPoints: [new URL('web/app.ts', here).pathname],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outfile: new URL('app.js', out).pathname,
  logLevel: 'warning',
});
const uplotCss = await readFile(createRequire(import.meta.url).resolve('uplot/dist/uPlot.min.css'), 'utf8');
await writeFile(new URL('app.css', out), `${uplotCss}\n${await readFile(new URL('web/app.css', here), 'utf8')}`);
await copyFile(new URL('web/index.html', here), new URL('index.html', out));
