import { backoffDelay, RetriableError, type Logger } from '@cdc/core';
import { gcpErrorInfo } from '@cdc/core/gcp';
import type { FileOrigin, FileOutcome, GroupEntry } from './load/entries.js';
import type { LoadableFile } from './transform/loadable-file.js';

export interface GroupSettings {
  /** a group collects files this long from its first one (the budget may make it wait longer) */
  windowMs: number;
  /** a group closes early with this many files, or bytes */
  maxFiles: number;
  maxBytes: number;
  /** a group that failed (its steps' own retries spent) is tried again after a backoff from retryBaseMs up to retryMaxMs */
  retryBaseMs: number;
  retryMaxMs: number;
}

/** What the grouping needs of the group load (GroupLoad). */
export interface GroupLoader {
  loadGroup(entries: readonly GroupEntry[]): Promise<FileOutcome[]>;
  rejectEvent(error: string, origin: FileOrigin): Promise<void>;
}

/** What the grouping needs of the budget: when the next load job may start. */
export interface GroupPacer {
  nextStart(): number;
}

interface Pending extends GroupEntry {
  at: number;
  resolve(outcome: FileOutcome): void;
  reject(error: unknown): void;
}

/** When the next group may start: after its window (or at once when full), and not before the budget allows. */
export function groupStartAt(pending: readonly { at: number; file: { bytes: number | null } }[], settings: GroupSettings, budgetStart: number, now: number): number {
  const bytes = pending.reduce((n, p) => n + (p.file.bytes ?? 0), 0);
  const full = pending.length >= settings.maxFiles || bytes >= settings.maxBytes;
  return Math.max(full ? now : pending[0]!.at + settings.windowMs, budgetStart);
}

/** Takes the files of the next group from the front of the queue: up to maxFiles and maxBytes (at least one file). */
export function takeGroup<T extends { file: { bytes: number | null } }>(pending: T[], settings: GroupSettings): T[] {
  let bytes = 0;
  let n = 0;
  while (n < pending.length && n < settings.maxFiles) {
    const size = pending[n]!.file.bytes ?? 0;
    if (n > 0 && bytes + size > settings.maxBytes) break;
    bytes += size;
    n++;
  }
  return pending.splice(0, n);
}

/**
 * Collects the files handed in by the source (any partition) into groups and loads one group at a time with the
 * file loader; each file's promise settles with its group. While a group loads, the next one collects: the
 * busier the traffic and the tighter the budget, the bigger the groups, never more load jobs. A group that fails
 * is tried again (with the files that arrived meanwhile) until it loads or the loader stops.
 */
export class FileGroups {
  private readonly pending: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  /** failed attempts of the group at the front of the queue, and when it may be tried again */
  private failures = 0;
  private retryAt = 0;

  constructor(
    private readonly loader: GroupLoader,
    private readonly pacer: GroupPacer,
    private readonly logger: Logger,
    private readonly settings: GroupSettings,
    /** the service's stop, aborted as the shutdown starts: no new group starts, a failed group is handed back */
    private readonly signal: AbortSignal,
  ) {}

  /** Settles once the file's group is loaded (or the file found loaded or quarantined); rejects when the group failed. */
  submit(file: LoadableFile, origin: FileOrigin): Promise<FileOutcome> {
    if (this.signal.aborted) return Promise.reject(new RetriableError('loader stopping', { reason: 'stopping' }));
    return new Promise<FileOutcome>((resolve, reject) => {
      this.pending.push({ file, origin, at: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  rejectEvent(error: string, origin: FileOrigin): Promise<void> {
    return this.loader.rejectEvent(error, origin);
  }

  private schedule(): void {
    if (this.signal.aborted || this.running || this.pending.length === 0) return;
    if (this.timer) clearTimeout(this.timer);
    const now = Date.now();
    const at = groupStartAt(this.pending, this.settings, Math.max(this.pacer.nextStart(), this.retryAt), now);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.running = this.runGroup().finally(() => {
        this.running = null;
        this.schedule();
      });
    }, at - now);
  }

  private async runGroup(): Promise<void> {
    const group = takeGroup(this.pending, this.settings);
    if (group.length === 0) return;
    try {
      const outcomes = await this.loader.loadGroup(group);
      this.failures = 0;
      this.retryAt = 0;
      group.forEach((entry, i) => entry.resolve(outcomes[i]!));
    } catch (error) {
      if (this.signal.aborted) {
        for (const entry of group) entry.reject(error);
        return;
      }
      // Held here, not handed back: the source commits in order, so later files wait for these anyway.
      this.failures++;
      const delayMs = backoffDelay(this.failures, this.settings.retryBaseMs, this.settings.retryMaxMs);
      this.retryAt = Date.now() + delayMs;
      this.pending.unshift(...group);
      // The error summary only: client errors can carry request headers (an access token).
      this.logger.warn({ files: group.length, attempt: this.failures, delayMs, error: gcpErrorInfo(error) }, 'group not loaded; held and tried again');
    }
  }

  /** A shutdown step (the signal is aborted): waiting files are handed back (not loaded, not committed); the running group finishes. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    for (const entry of this.pending.splice(0)) entry.reject(new RetriableError('loader stopping', { reason: 'stopping' }));
    await this.running;
  }
}
