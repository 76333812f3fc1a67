import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loaderConfigSchema } from '../config.js';
import { budgetWarning, LoadJobBudget, quotaDay } from './load-budget.js';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));
async function budgetDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'budget-'));
  dirs.push(dir);
  return dir;
}

const DAY_MS = 86_400_000;
/** 2026-01-15 08:00 UTC = midnight in Los Angeles (PST, UTC-8): the start of a quota day. */
const MIDNIGHT_PACIFIC = Date.UTC(2026, 0, 15, 8, 0, 0);

test('the quota day is the Pacific date; it ends at Pacific midnight', () => {
  assert.deepEqual(quotaDay(MIDNIGHT_PACIFIC), { key: '2026-01-15', msLeft: DAY_MS });
  assert.deepEqual(quotaDay(MIDNIGHT_PACIFIC - 1000), { key: '2026-01-14', msLeft: 1000 });
  assert.deepEqual(quotaDay(MIDNIGHT_PACIFIC + 6 * 3600_000), { key: '2026-01-15', msLeft: 18 * 3600_000 });
});

test('with the shipped default (1,000 a day) jobs are paced to at most one per 86.4 s, and a day never holds more', async () => {
  const limit = loaderConfigSchema.parse({}).LOADER_LOAD_JOBS_PER_DAY;
  assert.equal(limit, 1000, 'comfortably under the 1,500 BigQuery allows');
  let now = MIDNIGHT_PACIFIC;
  const budget = new LoadJobBudget(await budgetDir(), 'a', limit, () => now);
  await budget.open();
  assert.equal(budget.nextStart(), now, 'the first job at once');
  await budget.take();
  assert.equal(budget.nextStart() - now, Math.floor(DAY_MS / 1000));
  // A loader that starts a group whenever allowed, all day long, under constant traffic.
  let jobs = 1;
  while (true) {
    now = budget.nextStart();
    if (quotaDay(now).key !== '2026-01-15') break;
    await budget.take();
    jobs++;
  }
  assert.ok(jobs <= limit, `${jobs} jobs in the day`);
  assert.ok(jobs >= limit - 1, `the budget is used, not wasted: ${jobs}`);
});

test('a quiet morning leaves budget for a busier afternoon; used up, nothing until the next quota day', async () => {
  let now = MIDNIGHT_PACIFIC + 12 * 3600_000;
  const budget = new LoadJobBudget(await budgetDir(), 'a', 10, () => now);
  await budget.open();
  await budget.take();
  assert.equal(budget.nextStart() - now, Math.floor((12 * 3600_000) / 10), 'half the day left for 9 jobs');
  for (let i = 0; i < 9; i++) {
    now = budget.nextStart();
    await budget.take();
  }
  assert.equal(budget.state().usedToday, 10);
  assert.equal(budget.nextStart(), now + quotaDay(now).msLeft, 'the next quota day');
  assert.match(budgetWarning(budget.state())!, /budget used up \(10\/10\)/);
});

test('jobs of other instances and of earlier runs count; past days are forgotten', async () => {
  const dir = await budgetDir();
  let now = MIDNIGHT_PACIFIC + 3600_000;
  await writeFile(join(dir, '2026-01-15.other.json'), JSON.stringify({ jobs: 7, lastJobAt: now - 1000 }));
  await writeFile(join(dir, '2026-01-14.old.json'), JSON.stringify({ jobs: 900, lastJobAt: now - DAY_MS }));
  const first = new LoadJobBudget(dir, 'run1', 100, () => now);
  await first.open();
  assert.equal(first.state().usedToday, 7);
  assert.ok(first.nextStart() > now, 'paced from the other instance’s last job');
  now += 3600_000;
  await first.take();
  await first.take();
  const restarted = new LoadJobBudget(dir, 'run2', 100, () => now);
  await restarted.open();
  assert.equal(restarted.state().usedToday, 9, 'the earlier run counted');
  assert.deepEqual((await readdir(dir)).sort(), ['2026-01-15.other.json', '2026-01-15.run1.json']);
});

test('the warning comes before the budget runs out, and when the projection exceeds it', () => {
  const state = { limit: 1000, usedToday: 100, projected: 400, msLeftToday: 3600_000 };
  assert.equal(budgetWarning(state), null);
  assert.match(budgetWarning({ ...state, usedToday: 800 })!, /nearly used \(800\/1000\)/);
  assert.match(budgetWarning({ ...state, projected: 1200 })!, /projected for today \(1200\) exceed the budget \(1000\)/);
});
