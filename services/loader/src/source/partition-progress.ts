/** What a partition's progress reports: the offset to commit, or the first record that failed. */
export interface ProgressListener {
  /** every record before `next` is settled: commit `next` (a refused commit is left to the next one; must not throw) */
  committable(next: number): Promise<void>;
  /** the record at `offset` failed: nothing from it on is committed by this tracker (it closes) */
  failed(offset: number, error: unknown): void;
}

interface Entry {
  offset: number;
  state: 'waiting' | 'done' | 'failed';
  error?: unknown;
}

/**
 * The records of one partition handed over and not yet committed, in offset order. Records settle in any order
 * (their files load in groups); the tracker reports the longest settled prefix once, commits one at a time and in
 * order, and stops at the first failure. Closing it (partition revoked) ends its reports.
 */
export class PartitionProgress {
  private readonly entries: Entry[] = [];
  private committing: Promise<void> = Promise.resolve();
  private closed = false;
  private stopped = false;

  constructor(private readonly listener: ProgressListener) {}

  /** Records handed over and not yet committed. */
  get size(): number {
    return this.entries.length;
  }

  track(offset: number, done: Promise<unknown>): void {
    const entry: Entry = { offset, state: 'waiting' };
    this.entries.push(entry);
    done.then(
      () => {
        entry.state = 'done';
        this.advance();
      },
      (error: unknown) => {
        entry.state = 'failed';
        entry.error = error;
        this.advance();
      },
    );
  }

  close(): void {
    this.closed = true;
  }

  private advance(): void {
    if (this.closed || this.stopped) return;
    let last: Entry | undefined;
    while (this.entries[0]?.state === 'done') last = this.entries.shift();
    const head = this.entries[0];
    if (last) {
      const next = last.offset + 1;
      this.committing = this.committing.then(async () => {
        if (!this.closed) await this.listener.committable(next);
      });
    }
    if (head?.state === 'failed') {
      // The settled prefix before it is still committed.
      this.stopped = true;
      this.listener.failed(head.offset, head.error);
    }
  }

  /** Settles once the commits asked for so far are done (for a clean stop and for tests). */
  settled(): Promise<void> {
    return this.committing;
  }
}
