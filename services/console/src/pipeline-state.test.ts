import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition } from './exposition.js';
import { PipelineState, type ServiceReading } from './pipeline-state.js';

const reading = (name: string, metrics: string, ready = true, reasons: Record<string, string> = {}): ServiceReading => ({
  name,
  url: `http://127.0.0.1/${name}`,
  up: true,
  ready,
  reasons,
  samples: parseExposition(metrics),
});
const down = (name: string): ServiceReading => ({ name, url: '', up: false, ready: null, reasons: {}, error: 'ECONNREFUSED', samples: [] });

test('the exposition parser reads names, labels with escapes and values, and skips comments', () => {
  const samples = parseExposition('# HELP x y\n# TYPE x counter\nx_total{a="1",b="q\\"uote"} 3\nplain 4.5\nbad line\n');
  assert.deepEqual(samples, [
    { name: 'x_total', labels: { a: '1', b: 'q"uote' }, value: 3 },
    { name: 'plain', labels: {}, value: 4.5 },
  ]);
});

test('collections join the cdc stream with its topic; rates, restarts, problems and health follow the readings', () => {
  const state = new PipelineState(['cdc', 'processor', 'loader'], 1000);
  const cdc = (published: number, started: number) =>
    reading('cdc', `cdc_stream_topic_info{stream="shop.orders",topic="orders-cdc"} 1\ncdc_events_published_total{stream="shop.orders",op="insert"} ${published}\nprocess_start_time_seconds ${started}\ncdc_oplog_window_seconds 3600\n`);
  const processor = (deadLetters: number) =>
    reading('processor', `processor_rows_written_total{topic="orders-cdc",op="insert"} 5\nprocessor_dead_letters_total{topic="orders-cdc",reason="decode"} ${deadLetters}\nprocessor_consumer_lag{topic="orders-cdc",partition="0"} 2\n`);
  const loader = reading('loader', 'loader_freshness_seconds{topic="orders-cdc"} 4.5\nloader_load_jobs_today 10\nloader_load_jobs_projected 40\nloader_load_jobs_budget 1000\nloader_group_seconds_count 7\n', false, { load: 'accessDenied' });
  state.record([cdc(10, 100), processor(0), loader], 10_000);
  state.record([cdc(30, 100), processor(2), loader], 12_000);
  let snapshot = state.snapshot();
  assert.deepEqual(snapshot.collections, [
    { name: 'shop.orders', topic: 'orders-cdc', phase: 'streaming', freshnessSeconds: 4.5, resumePointAgeSeconds: null, eventsPublished: 30, rowsWritten: 5 },
  ]);
  assert.deepEqual(snapshot.throughput.series['cdc: events published/s'], [null, 10]);
  assert.deepEqual(snapshot.freshness.series['orders-cdc'], [4.5, 4.5]);
  assert.deepEqual(snapshot.budget, { today: 10, projected: 40, budget: 1000, left: 990 });
  assert.equal(snapshot.groupsLoaded, 7);
  assert.deepEqual(snapshot.lag, [{ service: 'processor', topic: 'orders-cdc', records: 2 }]);
  assert.equal(snapshot.oplogWindowSeconds, 3600);
  assert.equal(snapshot.problems.length, 1);
  assert.deepEqual({ ...snapshot.problems[0], findThem: undefined }, { service: 'processor', kind: 'dead letter', where: 'orders-cdc', reason: 'decode', count: 2, lastSeenAt: 12_000, findThem: undefined });
  assert.deepEqual(
    snapshot.services.map((s) => [s.name, s.up, s.ready, s.reasons]),
    [
      ['cdc', true, true, {}],
      ['processor', true, true, {}],
      ['loader', true, false, { load: 'accessDenied' }],
    ],
  );

  // the cdc restarted (a new start time, its counter from 0), then the processor went down
  state.record([cdc(4, 200), down('processor'), loader], 14_000);
  snapshot = state.snapshot();
  assert.equal(snapshot.services[0]?.restarts, 1);
  assert.deepEqual(snapshot.throughput.series['cdc: events published/s'], [null, 10, 2]);
  assert.deepEqual(snapshot.throughput.series['processor: rows written/s'], [null, 0, null]);
  assert.deepEqual([snapshot.services[1]?.up, snapshot.services[1]?.reasons], [false, { unreachable: 'ECONNREFUSED' }]);
});

test('the history keeps the last hour', () => {
  const state = new PipelineState(['loader'], 60_000);
  for (let minute = 0; minute <= 90; minute++) state.record([reading('loader', `loader_freshness_seconds{topic="t"} ${minute}\n`)], minute * 60_000);
  const { t } = state.snapshot().freshness;
  assert.equal(t.length, 61);
  assert.equal(t[0], 30 * 60);
});
