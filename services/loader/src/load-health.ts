import { classifyGcpError, type GcpError } from '@cdc/core/gcp';
import type { LoaderMetrics } from './metrics.js';

/**
 * Whether loading works, for /readyz and the metrics: failing since the first failed attempt after the last loaded
 * group (step retries included), until a group loads again. A downstream fault (permission, billing, a refused
 * KMS key, a missing table: it lasts until an operator acts) makes the loader not ready at once; any other failure
 * once it has lasted `notReadyAfterMs`. So does a step waiting on BigQuery or Cloud Storage for longer than that
 * (a job or request not answered yet, before its own deadline fails it), since nothing fails meanwhile.
 */
export class LoadHealth {
  private since: number | null = null;
  private last: GcpError | null = null;
  /** steps under way, each with when it started */
  private readonly waiting = new Map<symbol, { step: string; since: number }>();

  constructor(
    private readonly metrics: LoaderMetrics,
    private readonly notReadyAfterMs: number,
    private readonly now: () => number = Date.now,
  ) {
    metrics.watchFailing(() => (this.since === null ? 0 : (this.now() - this.since) / 1000));
  }

  failed(error: unknown): void {
    this.last = classifyGcpError(error);
    this.since ??= this.now();
    this.metrics.loadFailures.inc({ fault: this.last.fault, reason: this.last.reason });
  }

  loaded(): void {
    this.since = null;
    this.last = null;
  }

  /** A step has started waiting on BigQuery or Cloud Storage; the function returned says it is over. */
  started(step: string): () => void {
    const key = Symbol(step);
    this.waiting.set(key, { step, since: this.now() });
    return () => this.waiting.delete(key);
  }

  /** Why the loader is not ready, or null. */
  problem(): string | null {
    const oldest = Math.min(...[...this.waiting.values()].map((w) => w.since));
    if (this.now() - oldest >= this.notReadyAfterMs) {
      const stuck = [...this.waiting.values()].find((w) => w.since === oldest)!;
      return `step ${stuck.step} waiting on BigQuery or Cloud Storage for ${Math.round((this.now() - oldest) / 1000)} s`;
    }
    if (this.since === null || this.last === null) return null;
    const seconds = Math.round((this.now() - this.since) / 1000);
    const cause = `${this.last.reason}: ${this.last.message}`;
    if (this.last.fault === 'downstream') return `files held, not loaded (${this.last.fault} fault for ${seconds} s, retrying): ${cause}`;
    if (this.now() - this.since >= this.notReadyAfterMs) return `files not loaded for ${seconds} s (retrying): ${cause}`;
    return null;
  }
}
