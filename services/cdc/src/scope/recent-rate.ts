const WINDOW_SECONDS = 60;

/** Events per second over the last minute (per-second buckets; less than a minute since the first event: over that). */
export class RecentRate {
  private readonly buckets = new Map<number, number>();
  private readonly since: number;

  constructor(private readonly now: () => number = Date.now) {
    this.since = now();
  }

  add(count: number): void {
    const second = Math.floor(this.now() / 1000);
    this.buckets.set(second, (this.buckets.get(second) ?? 0) + count);
    this.forget(second);
  }

  perSecond(): number {
    const now = this.now();
    this.forget(Math.floor(now / 1000));
    let total = 0;
    for (const count of this.buckets.values()) total += count;
    const span = Math.min(WINDOW_SECONDS, Math.max(1, (now - this.since) / 1000));
    return Math.round((total / span) * 100) / 100;
  }

  private forget(second: number): void {
    for (const at of this.buckets.keys()) if (at <= second - WINDOW_SECONDS) this.buckets.delete(at);
  }
}
