// The console's page: fetches /api/state every poll interval and redraws the tables and the uPlot charts.
import uPlot from 'uplot';
import type { QueryResult } from '@cdc/analysis-tool';
import type { ConsoleState, History } from '../src/pipeline-state.js';
import type { WarehouseState } from '../src/warehouse.js';

/** What /api/state answers: the pipeline's state and BigQuery's as the console sees it. */
type ConsoleAnswer = ConsoleState & { warehouse: WarehouseState };

const COLORS = ['#0969da', '#1a7f37', '#bf3989', '#9a6700', '#8250df', '#cf222e', '#1b7c83'];
let paused = false;
const charts = new Map<string, { plot: uPlot; names: string }>();

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string | number | null, className?: string): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function fillTable(id: string, rows: (string | number | null)[][], rowClass?: (i: number) => string, empty = 'none') {
  const body = document.querySelector(`#${id} tbody`)!;
  const columns = document.querySelectorAll(`#${id} thead th`).length;
  const trs = rows.map((cells, i) => {
    const tr = el('tr', undefined, rowClass?.(i));
    for (const cell of cells) tr.append(el('td', cell ?? '–', typeof cell === 'number' ? 'number' : undefined));
    return tr;
  });
  if (trs.length === 0) {
    const td = el('td', empty);
    td.colSpan = columns;
    trs.push(el('tr'));
    trs[0]!.append(td);
  }
  body.replaceChildren(...trs);
}

const seconds = (s: number | null) =>
  s === null ? null : s < 120 ? `${s.toFixed(1)} s` : s < 7200 ? `${(s / 60).toFixed(1)} min` : `${(s / 3600).toFixed(1)} h`;
const bytes = (b: number | null) => (b === null ? null : `${(b / 1024 / 1024).toFixed(0)} MiB`);
const time = (unixMs: number | null) => (unixMs === null ? null : new Date(unixMs).toLocaleTimeString());

function render(state: ConsoleAnswer) {
  const stateOf = (s: ConsoleState['services'][number]) => (!s.up ? 'down' : s.ready ? 'ready' : 'not-ready');
  fillTable(
    'services',
    state.services.map((s) => [
      s.name,
      null,
      Object.entries(s.reasons).map(([check, why]) => `${check}: ${why}`).join('; ') || null,
      s.restarts,
      s.startedAt === null ? null : time(s.startedAt * 1000),
      bytes(s.memoryBytes),
      s.nodeVersion,
    ]),
    (i) => stateOf(state.services[i]!),
  );
  document.querySelectorAll('#services tbody tr').forEach((tr, i) => {
    const service = state.services[i];
    if (!service) return;
    const status = stateOf(service);
    tr.setAttribute('data-service', service.name);
    tr.setAttribute('data-state', status);
    const cell = tr.children[1]!;
    cell.className = `state ${status}`;
    cell.textContent = status === 'down' ? '● down' : status === 'ready' ? '● ready' : '● not ready';
  });

  fillTable(
    'collection-table',
    state.collections.map((c) => [c.name, c.topic, c.phase, seconds(c.freshnessSeconds), seconds(c.resumePointAgeSeconds), c.eventsPublished, c.rowsWritten]),
    undefined,
    'no collection seen yet',
  );
  document.querySelectorAll('#collection-table tbody tr').forEach((tr, i) => {
    const c = state.collections[i];
    if (c) tr.setAttribute('data-collection', c.name);
  });
  document.getElementById('oplog')!.textContent =
    state.oplogWindowSeconds === null ? 'oplog window unknown' : `oplog window ${seconds(state.oplogWindowSeconds)}`;

  fillTable('lag', state.lag.map((l) => [l.service, l.topic, l.records]));
  fillTable('groups', (state.kafka?.lag ?? []).map((g) => [g.group, g.topic, g.records, g.partitions]));
  document.getElementById('kafka-state')!.textContent =
    state.kafka === null ? 'not read yet' : state.kafka.error ? `Kafka did not answer: ${state.kafka.error}` : 'read';
  fillTable('batches', state.openBatches.map((b) => [b.topic, b.rows, seconds(b.ageSeconds)]));
  const meter = document.getElementById('budget-meter') as HTMLMeterElement;
  const budgetText = document.getElementById('budget-text')!;
  if (state.budget) {
    meter.max = state.budget.budget;
    meter.value = state.budget.today;
    meter.high = state.budget.budget * 0.8;
    budgetText.textContent = `${state.budget.today} used, ${state.budget.left} left of ${state.budget.budget}; projected for the day: ${Math.round(state.budget.projected)}`;
  } else budgetText.textContent = 'unknown (loader not read)';
  document.getElementById('loaded')!.textContent = `groups loaded: ${state.groupsLoaded ?? 'unknown'}; files loaded: ${state.filesLoaded ?? 'unknown'}`;

  fillTable(
    'problems',
    state.problems.map((p) => [p.service, p.kind, p.where, p.reason, p.count, p.lastSeenAt === null ? 'before the console started' : time(p.lastSeenAt), p.findThem]),
    undefined,
    'none',
  );
  renderWarehouse(state.warehouse);
  chart('throughput-chart', state.throughput, 'per second');
  chart('freshness-chart', state.freshness, 'seconds');
  const down = state.services.filter((s) => !s.ready).map((s) => s.name);
  document.getElementById('status')!.textContent =
    `Updated ${time(state.at) ?? 'never'}; ${down.length === 0 ? 'every service ready' : `not ready: ${down.join(', ')}`}`;
}

function chart(id: string, history: History, unit: string) {
  const names = Object.keys(history.series);
  const data: uPlot.AlignedData = [history.t, ...names.map((n) => history.series[n]!)];
  const known = charts.get(id);
  if (known && known.names === names.join('\n')) {
    known.plot.setData(data);
    return;
  }
  known?.plot.destroy();
  const target = document.getElementById(id)!;
  const plot = new uPlot(
    {
      width: Math.min(560, Math.max(320, window.innerWidth - 48)),
      height: 220,
      series: [{}, ...names.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: false }))],
      axes: [{}, { label: unit }],
      scales: { x: { time: true } },
    },
    data,
    target,
  );
  charts.set(id, { plot, names: names.join('\n') });
}

let shownViews = '';

/** BigQuery's state every time; the view links only when they change (a redraw would take the keyboard focus away). */
function renderWarehouse(warehouse: WarehouseState) {
  const stateNode = document.getElementById('bigquery-state')!;
  const reading = warehouse.reading;
  const status = reading === null ? 'unknown' : reading.error ? 'down' : 'ready';
  stateNode.dataset.state = status;
  stateNode.className = `state ${status}`;
  stateNode.textContent = reading === null ? 'not read yet' : reading.error ? `● ${reading.error}` : `● answers (dataset ${warehouse.dataset})`;
  const views = JSON.stringify(warehouse.views);
  if (views === shownViews) return;
  shownViews = views;
  const items = warehouse.views.map(({ collection, current, history }) => {
    const li = el('li', `${collection}: `);
    li.dataset.collection = collection;
    for (const view of [current, history]) {
      const a = el('a', view.name);
      a.href = '#query';
      a.dataset.sql = view.sql;
      a.title = `put a query of ${view.name} into the query box`;
      li.append(a);
      if (view.url) {
        const open = el('a', `(${view.name} in the BigQuery console)`);
        open.href = view.url;
        open.target = '_blank';
        open.rel = 'noopener noreferrer';
        li.append(open);
      }
    }
    return li;
  });
  document.getElementById('views')!.replaceChildren(...(items.length > 0 ? items : [el('li', 'no collection seen yet')]));
}

document.getElementById('views')!.addEventListener('click', (event) => {
  const link = (event.target as HTMLElement).closest<HTMLAnchorElement>('a[data-sql]');
  if (!link) return;
  event.preventDefault();
  const box = document.getElementById('query') as HTMLTextAreaElement;
  box.value = `SELECT *\nFROM ${link.dataset.sql}\nLIMIT 100`;
  box.focus();
});

function showResult(result: QueryResult) {
  const table = document.getElementById('query-result') as HTMLTableElement;
  const head = el('tr');
  for (const column of result.columns) {
    const th = el('th', column);
    th.scope = 'col';
    head.append(th);
  }
  table.tHead!.replaceChildren(head);
  const cell = (value: unknown) => (value === null || value === undefined ? 'NULL' : typeof value === 'object' ? JSON.stringify(value) : String(value));
  table.tBodies[0]!.replaceChildren(
    ...result.rows.map((row) => {
      const tr = el('tr');
      for (const column of result.columns) tr.append(el('td', cell(row[column]), typeof row[column] === 'number' ? 'number' : undefined));
      return tr;
    }),
  );
  table.hidden = false;
}

async function runQuery(sql: string) {
  const message = document.getElementById('query-message')!;
  const button = document.getElementById('run-query') as HTMLButtonElement;
  button.disabled = true;
  message.className = '';
  message.textContent = 'Running…';
  try {
    const response = await fetch('api/query', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sql }) });
    const answer = (await response.json()) as { result?: QueryResult; error?: string };
    if (!answer.result) throw new Error(answer.error ?? `the console answered ${response.status}`);
    showResult(answer.result);
    const { rows, truncated, elapsedMs } = answer.result;
    message.textContent = `${rows.length} row${rows.length === 1 ? '' : 's'}${truncated ? ' shown: there are more (the console shows the first ones only)' : ''}, ${(elapsedMs / 1000).toFixed(2)} s`;
  } catch (error) {
    (document.getElementById('query-result') as HTMLTableElement).hidden = true;
    message.className = 'error';
    message.textContent = (error as Error).message;
  } finally {
    button.disabled = false;
  }
}

document.getElementById('query-form')!.addEventListener('submit', (event) => {
  event.preventDefault();
  void runQuery((document.getElementById('query') as HTMLTextAreaElement).value);
});
document.getElementById('query')!.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    (document.getElementById('query-form') as HTMLFormElement).requestSubmit();
  }
});

async function refresh(): Promise<number> {
  try {
    const response = await fetch('api/state', { cache: 'no-store' });
    if (!response.ok) throw new Error(`the console answered ${response.status}`);
    const state = (await response.json()) as ConsoleAnswer;
    if (!paused) render(state);
    return Math.max(1000, state.pollIntervalMs);
  } catch (error) {
    document.getElementById('status')!.textContent = `The console does not answer: ${(error as Error).message}`;
    return 5000;
  }
}

document.getElementById('pause')!.addEventListener('click', (event) => {
  paused = !paused;
  const button = event.currentTarget as HTMLButtonElement;
  button.setAttribute('aria-pressed', String(paused));
  button.textContent = paused ? 'Resume updates' : 'Pause updates';
});

async function loop() {
  const wait = await refresh();
  setTimeout(() => void loop(), wait);
}
void loop();
