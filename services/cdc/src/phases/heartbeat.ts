/**
 * When a quiet stream's position is due to be checkpointed: once `intervalMs` have passed since the stream's last
 * commit, whatever it carried. Due at once after (re)opening, so a restart moves an old resume point forward.
 */
export class HeartbeatSchedule {
  private lastCommitAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  committed(): void {
    this.lastCommitAt = this.now();
  }

  get due(): boolean {
    return this.now() - this.lastCommitAt >= this.intervalMs;
  }
}
