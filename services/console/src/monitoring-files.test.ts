// The shipped monitoring files (monitoring/: Prometheus alert rules, the Grafana dashboard) query only metrics the
// services export: a renamed metric fails here instead of leaving a silent alert or an empty panel.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { collectDefaultMetrics, Registry } from 'prom-client';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES = ['cdc', 'processor', 'loader'];
/** metrics Prometheus itself adds to every scrape */
const SCRAPE_METRICS = ['up'];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}

/** every metric name the services define: the names in their sources, the ops server's and prom-client's own */
function definedMetrics(): Set<string> {
  const names = new Set<string>(SCRAPE_METRICS);
  for (const service of [...SERVICES, 'core']) {
    for (const file of sources(join(ROOT, 'services', service, 'src'))) {
      for (const [, name = ''] of readFileSync(file, 'utf8').matchAll(/'((?:cdc|processor|loader)_[a-z_]+)'/g)) names.add(name);
    }
  }
  // ops-server.ts: `${service}_not_ready` for every service
  for (const service of SERVICES) names.add(`${service}_not_ready`);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of registry.getMetricsAsArray()) names.add(metric.name);
  return names;
}

/** the metric names a PromQL expression reads (identifiers with a service prefix, `up`, and __name__ matchers) */
function queriedMetrics(expr: string): string[] {
  const names = new Set<string>();
  for (const [, alternatives = ''] of expr.matchAll(/__name__=~?"([^"]*)"/g)) for (const name of alternatives.split('|')) names.add(name);
  // label values ("cdc|processor|loader") are not metrics
  const withoutStrings = expr.replace(/"[^"]*"/g, '""');
  for (const [name = ''] of withoutStrings.matchAll(/\b(?:cdc|processor|loader|process|nodejs)_[a-z_]+\b|\bup\b/g)) names.add(name);
  return [...names].map((name) => name.replace(/_(bucket|sum|count)$/, ''));
}

const ruleExpressions = (): string[] =>
  [...readFileSync(join(ROOT, 'monitoring/prometheus/cdc-pipeline.rules.yml'), 'utf8').matchAll(/^\s+expr: (.+)$/gm)].map(([, expr = '']) => expr);

test('the dashboard is importable JSON whose every panel queries metrics the services export', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'monitoring/grafana/cdc-pipeline.dashboard.json'), 'utf8')) as {
    title: string;
    __inputs: { name: string }[];
    panels: { title: string; targets: { expr: string }[] }[];
  };
  assert.equal(dashboard.title, 'CDC pipeline');
  assert.deepEqual(
    dashboard.__inputs.map((input) => input.name),
    ['DS_PROMETHEUS'],
  );
  assert.ok(dashboard.panels.length >= 10);
  const defined = definedMetrics();
  for (const panel of dashboard.panels) {
    assert.ok(panel.targets.length > 0, `${panel.title}: no query`);
    for (const { expr } of panel.targets) {
      const queried = queriedMetrics(expr);
      assert.ok(queried.length > 0, `${panel.title}: no metric in ${expr}`);
      for (const name of queried) assert.ok(defined.has(name), `${panel.title}: ${name} is not a metric of the services`);
    }
  }
});

test('every alert rule reads metrics the services export', () => {
  const expressions = ruleExpressions();
  assert.ok(expressions.length >= 10);
  const defined = definedMetrics();
  for (const expr of expressions) {
    for (const name of queriedMetrics(expr)) assert.ok(defined.has(name), `${name} in ${expr} is not a metric of the services`);
  }
});

test('the metric check itself: a renamed metric is caught', () => {
  const defined = definedMetrics();
  assert.ok(defined.has('loader_freshness_seconds') && defined.has('processor_not_ready') && defined.has('process_start_time_seconds'));
  assert.deepEqual(queriedMetrics('max(loader_freshnes_seconds) > 300').filter((name) => !defined.has(name)), ['loader_freshnes_seconds']);
  assert.deepEqual(queriedMetrics('{__name__=~"cdc_not_ready|loader_not_readyy"} > 0').filter((name) => !defined.has(name)), ['loader_not_readyy']);
});
