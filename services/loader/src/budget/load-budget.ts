import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** BigQuery's daily quotas are replenished at midnight Pacific time. */
const QUOTA_TIME_ZONE = 'America/Los_Angeles';
const pacificClock = new Intl.DateTimeFormat('en-CA', { timeZone: QUOTA_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });

/** The quota day of an instant (its Pacific date) and how long until it ends. */
export function quotaDay(now: number): { key: string; msLeft: number } {
  const parts = Object.fromEntries(pacificClock.formatToParts(new Date(now)).map((p) => [p.type, p.value]));
  const elapsed = ((Number(parts.hour) * 60 + Number(parts.minute)) * 60 + Number(parts.second)) * 1000 + (now % 1000);
  // Days of a DST change are an hour longer or shorter: the pacing is then off by that hour, well inside the margin to the quota.
  return { key: `${parts.year}-${parts.month}-${parts.day}`, msLeft: DAY_MS - elapsed };
}

export interface BudgetState {
  /** load jobs started today by every instance sharing the budget directory */
  usedToday: number;
  limit: number;
  /** today's use extrapolated from the last hour's rate */
  projected: number;
  msLeftToday: number;
}

/**
 * The per-table daily budget of load jobs (BigQuery allows 1,500 per table per day, failed ones included). Every
 * job is counted before it is requested, in a file of this instance under the shared directory (the loaders of one
 * table share the Parquet tree), so restarts and other instances are counted too. Jobs are paced: the next may
 * start once `msLeftToday / (jobsLeftToday + 1)` has passed since the previous one, so a day never holds more than the
 * limit, and unused budget of a quiet morning speeds up the afternoon. When traffic grows, groups wait longer and
 * grow instead.
 */
export class LoadJobBudget {
  private used = 0;
  private mine = 0;
  private day = '';
  private lastJobAt = 0;
  private readonly recent: number[] = [];

  constructor(
    private readonly dir: string,
    private readonly instance: string,
    readonly limit: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads what every instance recorded today (call at start). */
  async open(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await this.refresh();
  }

  private async refresh(): Promise<void> {
    const { key } = quotaDay(this.now());
    if (key !== this.day) {
      this.day = key;
      this.mine = 0;
    }
    let used = this.mine;
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      if (!name.startsWith(`${key}.`)) {
        // A past day's record is no longer needed.
        await rm(join(this.dir, name), { force: true });
        continue;
      }
      if (name === `${key}.${this.instance}.json`) continue;
      const record = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as { jobs: number; lastJobAt: number };
      used += record.jobs;
      this.lastJobAt = Math.max(this.lastJobAt, record.lastJobAt);
    }
    this.used = used;
  }

  /** When the next load job may start (epoch ms): now, after the pace since the previous job, or at the next quota day. */
  nextStart(): number {
    const now = this.now();
    const { key, msLeft } = quotaDay(now);
    if (key !== this.day) return now;
    const left = this.limit - this.used;
    if (left <= 0) return now + msLeft;
    // One share more than jobs left: the last one still falls inside the day.
    return Math.max(now, this.lastJobAt + Math.floor(msLeft / (left + 1)));
  }

  /** Counts one load job (before it is requested: a job that fails still counts). */
  async take(): Promise<void> {
    await this.refresh();
    const now = this.now();
    this.mine += 1;
    this.used += 1;
    this.lastJobAt = now;
    this.recent.push(now);
    while (this.recent.length > 0 && this.recent[0]! < now - HOUR_MS) this.recent.shift();
    const file = join(this.dir, `${this.day}.${this.instance}.json`);
    await writeFile(`${file}.tmp`, JSON.stringify({ jobs: this.mine, lastJobAt: now }));
    await rename(`${file}.tmp`, file);
  }

  state(): BudgetState {
    const now = this.now();
    const { key, msLeft } = quotaDay(now);
    const usedToday = key === this.day ? this.used : 0;
    const lastHour = this.recent.filter((t) => t >= now - HOUR_MS).length;
    return { usedToday, limit: this.limit, projected: Math.round(usedToday + (lastHour * msLeft) / HOUR_MS), msLeftToday: msLeft };
  }
}

/** A warning before the budget runs out (or once it has): null while today's use is comfortably inside it. */
export function budgetWarning(state: BudgetState): string | null {
  if (state.usedToday >= state.limit) return `load-job budget used up (${state.usedToday}/${state.limit}): no load until the quota day ends in ${Math.ceil(state.msLeftToday / 60_000)} min`;
  if (state.usedToday >= 0.8 * state.limit) return `load-job budget nearly used (${state.usedToday}/${state.limit}): groups wait longer and grow until the quota day ends`;
  if (state.projected > state.limit) return `load jobs projected for today (${state.projected}) exceed the budget (${state.limit}) at the last hour's rate: groups will wait longer and grow`;
  return null;
}
