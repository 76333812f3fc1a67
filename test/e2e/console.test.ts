/// <reference lib="dom" />
// The console in a real browser (Debian's headless Chromium, driven by playwright-core) on a pipeline of real
// processes (cdc -> Kafka -> processor -> Parquet -> loader -> BigQuery emulator): every service shows ready; an
// order inserted through the MongoDB driver changes the counts and the freshness on the page without a reload; a
// poison record shows up as a dead letter with its reason; the query box shows the order from its typed view and
// refuses a DELETE; a killed service turns red and, started again, ready. No JavaScript error on the way; the page
// works from the keyboard. Then consoles whose Kafka broker, and whose BigQuery emulator, are killed and started
// again. Screenshots: test-artifacts/console/ (git-ignored). The DOM types are for the functions that run in the page.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MongoClient } from 'mongodb';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { testKafka, testProducer } from '../support/kafka.js';
import { cdcEnv, testMongo } from '../support/mongo.js';
import { freePort, repoRoot, startService, type ServiceProcess } from '../support/service-process.js';
import { gcpEnv, loaderScenario, pipelineProcessorEnv, type LoaderScenario } from '../support/loader.js';
import { infra, uniqueName } from '../support/infra.js';
import { startPrivateKafka, type PrivateKafka } from '../support/private-kafka.js';
import { startPrivateBigQuery, type PrivateBigQuery } from '../support/private-bigquery.js';
import { createGcpClients } from '@cdc/core/gcp';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(repoRoot, 'test-artifacts', 'console');
const PAGE_TIMEOUT_MS = 120_000;
const kafka = testKafka();

/** A fresh Chromium profile and page; JavaScript errors and failed loads of the page go to `errors`. */
async function openInChromium(errors: string[]): Promise<{ browser: BrowserContext; page: Page; profile: string }> {
  const profile = mkdtempSync(join(tmpdir(), 'console-chromium-'));
  // the flags keep a headless Chromium from reaching out (updates, sync, field trials) on a closed network
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1280, height: 1100 },
  });
  const page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.on('pageerror', (error) => errors.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console error: ${message.text()}`);
  });
  return { browser, page, profile };
}

/** Runs SQL through the page's query box from the keyboard (Ctrl+Enter in the box); the message it ends with. */
async function queryOnPage(page: Page, sql: string): Promise<{ message: string; failed: boolean }> {
  const box = page.getByLabel(/^One query/);
  await box.fill(sql);
  await box.press('Control+Enter');
  await page.waitForFunction(() => !(document.getElementById('run-query') as HTMLButtonElement).disabled && document.getElementById('query-message')?.textContent !== 'Running…');
  const message = page.locator('#query-message');
  return { message: (await message.textContent()) ?? '', failed: (await message.getAttribute('class')) === 'error' };
}

/** A console of its own (its watched service is not running: it shows it down and goes on), open in Chromium. */
async function loneConsole(env: Record<string, string>, label: string, errors: string[]): Promise<{ consoleService: ServiceProcess; browser: BrowserContext; page: Page; profile: string }> {
  const consoleService = await startService('console', { CONSOLE_SERVICES: `cdc=http://127.0.0.1:${await freePort()}`, ...env }, label);
  await consoleService.waitReady();
  const opened = await openInChromium(errors);
  await opened.page.goto(`http://127.0.0.1:${consoleService.port}/`);
  return { consoleService, ...opened };
}

async function closeChromium(browser: BrowserContext | undefined, profile: string | undefined): Promise<void> {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
}

describe('the console in a browser', () => {
  let s: LoaderScenario;
  let mongo: MongoClient;
  let profile: string | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const errors: string[] = [];
  const services = new Map<string, ServiceProcess>();

  const serviceState = (name: string) => page.locator(`#services tr[data-service="${name}"]`).getAttribute('data-state');
  const shot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  before(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    mongo = await testMongo();
    s = loaderScenario('console');
    const loader = await startService('loader', s.env({ LOADER_CONCURRENCY: '1' }), 'loader-console');
    const processor = await startService('processor', pipelineProcessorEnv(s, 1), 'processor-console');
    const cdc = await startService('cdc', cdcEnv(s.prefix, s.dataset, { KAFKA_CLIENT_ID: `${s.prefix}-cdc`, KAFKA_TOPIC_PARTITIONS: '1' }), 'cdc-console');
    services.set('cdc', cdc).set('processor', processor).set('loader', loader);
    await Promise.all([cdc, processor, loader].map((service) => service.waitReady()));
    const watched = [...services].map(([name, service]) => `${name}=http://127.0.0.1:${service.port}`).join(',');
    const consoleService = await startService(
      'console',
      { CONSOLE_SERVICES: watched, KAFKA_BROKERS: infra.kafkaBrokers, CONSOLE_KAFKA_GROUPS: `${s.prefix}-processor,${s.group}`, ...gcpEnv(s) },
      'console',
    );
    services.set('console', consoleService);
    await consoleService.waitReady();

    ({ browser, page, profile } = await openInChromium(errors));
    await page.goto(`http://127.0.0.1:${consoleService.port}/`);
  });

  after(async () => {
    await closeChromium(browser, profile);
    for (const service of services.values()) if (service.exitCode === undefined) void service.kill('SIGTERM');
    await Promise.all([...services.values()].map((service) => service.exited));
    await mongo?.close();
  });

  test('every service shows ready, with nothing secret on the page', async () => {
    await page.waitForFunction(
      () => ['cdc', 'processor', 'loader'].every((name) => document.querySelector(`#services tr[data-service="${name}"]`)?.getAttribute('data-state') === 'ready'),
    );
    await shot('1-ready');
    const html = await page.content();
    assert.doesNotMatch(html, /mongodb:\/\/|password|127\.0\.0\.1:\d+/i, 'no connection string, password or service address on the page');
  });

  test('an inserted order changes the counts and the freshness without a reload', async () => {
    const collection = `${s.dataset}.orders`;
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    const row = page.locator(`#collection-table tr[data-collection="${collection}"]`);
    await row.waitFor();
    const cellsBefore = await row.locator('td').allTextContents();
    assert.equal(cellsBefore[5], '0', 'no event published yet');
    await mongo.db(s.dataset).collection('orders').insertOne({ status: 'new', total: 12.5, customer: 'console test' });
    // events published (column 5), rows written (6), then freshness (3) once the loader made it visible in BigQuery
    await page.waitForFunction(
      (name) => {
        const row = document.querySelector(`#collection-table tr[data-collection="${name}"]`);
        const cells = row ? Array.from(row.querySelectorAll('td'), (td) => td.textContent) : [];
        return cells[5] === '1' && cells[6] === '1' && cells[3] !== '–';
      },
      collection,
    );
    const cellsAfter = await row.locator('td').allTextContents();
    assert.match(cellsAfter[3] ?? '', /^\d+(\.\d)? (s|min)$/, `freshness shown: ${cellsAfter[3]}`);
    assert.equal(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument), true, 'the page was not reloaded');
    assert.ok(await page.locator('#throughput-chart canvas').count(), 'the throughput chart is drawn');
    // both groups as Kafka keeps them: the processor's on the cdc topic, the loader's on the files topic
    await page.locator('#groups tbody tr', { hasText: `${s.prefix}-processor` }).filter({ hasText: s.topic }).waitFor();
    await page.locator('#groups tbody tr', { hasText: s.group }).filter({ hasText: s.filesTopic }).waitFor();
    assert.equal(await page.locator('#kafka-state').textContent(), 'read');
    await shot('2-order-loaded');
  });

  test('a poison record shows up as a dead letter with its reason', async () => {
    const producer = testProducer(kafka);
    await producer.connect();
    try {
      await producer.send({ topic: s.topic, messages: [{ key: 'poison', value: 'not a change event' }] });
    } finally {
      await producer.disconnect();
    }
    const problem = page.locator('#problems tbody tr', { hasText: s.topic });
    await problem.waitFor();
    const cells = await problem.locator('td').allTextContents();
    assert.equal(cells[0], 'processor');
    assert.equal(cells[1], 'dead letter');
    assert.ok((cells[3] ?? '').length > 0 && cells[3] !== '–', `a reason is shown: ${cells.join(' | ')}`);
    assert.match(cells[6] ?? '', new RegExp(`${s.topic}\\.dlq`));
    await shot('3-dead-letter');
  });

  test('the page works from the keyboard', async () => {
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the collections');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'pause');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#pause').getAttribute('aria-pressed'), 'true');
    await page.keyboard.press('Enter');
    assert.equal(await page.locator('#pause').getAttribute('aria-pressed'), 'false');
  });

  test("the query box: a SELECT on the orders typed view shows the inserted order; a DELETE is refused on the page", async () => {
    await page.locator('#bigquery-state[data-state="ready"]').waitFor();
    // the collection's typed views are linked; the link puts a query of the view into the box
    const view = `\`${infra.bigqueryProject}.${s.dataset}.orders\``;
    const links = page.locator(`#views li[data-collection="${s.dataset}.orders"] a[data-sql]`);
    assert.deepEqual(await links.allTextContents(), ['orders', 'orders_history']);
    await links.first().click();
    assert.equal(await page.locator('#query').inputValue(), `SELECT *\nFROM ${view}\nLIMIT 100`);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'query', 'the box has the focus');

    const select = await queryOnPage(page, `SELECT status, total, customer FROM ${view} WHERE customer = 'console test'`);
    assert.equal(select.failed, false, select.message);
    assert.match(select.message, /^1 row, /);
    assert.deepEqual(await page.locator('#query-result thead th').allTextContents(), ['status', 'total', 'customer']);
    assert.deepEqual(await page.locator('#query-result tbody tr td').allTextContents(), ['new', '12.5', 'console test']);
    await shot('4-query');

    const remove = await queryOnPage(page, `DELETE FROM ${view} WHERE TRUE`);
    assert.equal(remove.failed, true);
    assert.match(remove.message, /^Refused: DELETE is not a query: only queries run here/);
    assert.equal(await page.locator('#query-result').isHidden(), true, 'no result table under a refusal');
    assert.equal(await page.locator('#query-message').evaluate((node) => getComputedStyle(node).color), 'rgb(207, 34, 46)', 'red');
    await shot('5-query-refused');
    // refused before BigQuery: the order is still there
    assert.match((await queryOnPage(page, `SELECT COUNT(*) AS n FROM ${view}`)).message, /^1 row/);
    assert.deepEqual(await page.locator('#query-result tbody td').allTextContents(), ['1']);
  });

  test('a killed service turns red with its reason; the others stay ready', async () => {
    await services.get('processor')!.kill('SIGKILL');
    await page.waitForFunction(() => document.querySelector('#services tr[data-service="processor"]')?.getAttribute('data-state') === 'down');
    const cell = page.locator('#services tr[data-service="processor"] td.state');
    const color = await cell.evaluate((td) => getComputedStyle(td).color);
    assert.equal(color, 'rgb(207, 34, 46)', 'red');
    assert.match((await page.locator('#services tr[data-service="processor"] td').nth(2).textContent()) ?? '', /unreachable/);
    assert.equal(await serviceState('loader'), 'ready');
    assert.match((await page.locator('#status').textContent()) ?? '', /not ready: processor/);
    await shot('6-processor-stopped');
  });

  test('the processor started again on its port turns ready again', async () => {
    const port = services.get('processor')!.port;
    const processor = await startService('processor', { ...pipelineProcessorEnv(s, 1), HTTP_PORT: String(port) }, 'processor-console-again');
    services.set('processor-again', processor);
    await page.waitForFunction(() => document.querySelector('#services tr[data-service="processor"]')?.getAttribute('data-state') === 'ready');
    assert.match((await page.locator('#status').textContent()) ?? '', /every service ready/);
  });

  test('no JavaScript error on the way', () => {
    assert.deepEqual(errors, []);
  });
});

describe('the console while the Kafka broker is away', () => {
  let broker: PrivateKafka;
  let consoleService: ServiceProcess;
  let profile: string | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const errors: string[] = [];

  before(async () => {
    broker = await startPrivateKafka();
    const prefix = uniqueName('console-kafka');
    ({ consoleService, browser, page, profile } = await loneConsole({ KAFKA_BROKERS: broker.brokers, CONSOLE_KAFKA_GROUPS: `${prefix}-g` }, 'console-kafka', errors));
  });

  after(async () => {
    await closeChromium(browser, profile);
    await consoleService?.kill('SIGTERM');
    await broker?.remove();
  });

  test('the broker killed, the page says Kafka does not answer; started again, Kafka is read again', async () => {
    await page.waitForFunction(() => document.getElementById('kafka-state')?.textContent === 'read');
    assert.equal(await page.locator('#services tr[data-service="cdc"]').getAttribute('data-state'), 'down');
    broker.kill();
    await page.waitForFunction(() => document.getElementById('kafka-state')?.textContent?.startsWith('Kafka did not answer'));
    await page.screenshot({ path: join(SCREENSHOTS, '7-kafka-away.png'), fullPage: true });
    await broker.start();
    await page.waitForFunction(() => document.getElementById('kafka-state')?.textContent === 'read');
    assert.equal(consoleService.exitCode, undefined, 'the console kept running');
    assert.deepEqual(errors, []);
  });
});

describe('the console while the BigQuery emulator is away', () => {
  let emulator: PrivateBigQuery;
  let consoleService: ServiceProcess;
  let profile: string | undefined;
  let browser: BrowserContext | undefined;
  let page: Page;
  const errors: string[] = [];
  const dataset = uniqueName('console_bq').replaceAll('-', '_');

  before(async () => {
    emulator = await startPrivateBigQuery();
    const gcp = { GCP_PROJECT: infra.bigqueryProject, BQ_DATASET: dataset, BIGQUERY_ENDPOINT: emulator.endpoint };
    await createGcpClients({ ...gcp, BQ_LOCATION: 'US', BQ_CHANGES_TABLE: 'orders_changes', BQ_CURRENT_TABLE: 'orders_current', GCS_STAGING_MAX_AGE_DAYS: 7 }).bigquery.createDataset(dataset);
    ({ consoleService, browser, page, profile } = await loneConsole({ KAFKA_BROKERS: infra.kafkaBrokers, CONSOLE_KAFKA_GROUPS: `${dataset}-g`, ...gcp }, 'console-bigquery', errors));
  });

  after(async () => {
    await closeChromium(browser, profile);
    await consoleService?.kill('SIGTERM');
    await emulator?.remove();
  });

  test('the emulator killed, the page says BigQuery does not answer and a query fails in bounded time; started again, both work', async () => {
    await page.locator('#bigquery-state[data-state="ready"]').waitFor();
    assert.equal((await queryOnPage(page, 'SELECT 1 AS n')).failed, false);
    emulator.kill();
    await page.locator('#bigquery-state[data-state="down"]').waitFor();
    assert.match((await page.locator('#bigquery-state').textContent()) ?? '', /^● BigQuery (did not answer|gave no answer within)/);
    assert.equal(await page.locator('#bigquery-state').evaluate((node) => getComputedStyle(node).color), 'rgb(207, 34, 46)', 'red');
    // the query comes back as an error (the console's deadline bounds it), not a page waiting for ever
    const failed = await queryOnPage(page, 'SELECT 1 AS n');
    assert.equal(failed.failed, true);
    assert.match(failed.message, /^BigQuery (did not answer|gave no result)/);
    await page.screenshot({ path: join(SCREENSHOTS, '8-bigquery-away.png'), fullPage: true });

    await emulator.start();
    await page.locator('#bigquery-state[data-state="ready"]').waitFor();
    const again = await queryOnPage(page, 'SELECT 1 AS n');
    assert.equal(again.failed, false, again.message);
    assert.deepEqual(await page.locator('#query-result tbody td').allTextContents(), ['1']);
    assert.equal(consoleService.exitCode, undefined, 'the console kept running');
    assert.deepEqual(errors, []);
  });
});
