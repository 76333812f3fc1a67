/** A condition that keeps the service from being ready: the reason while it holds, null otherwise. */
export type ReadinessCheck = () => string | null;

/**
 * What /readyz answers: ready once the service says it started, while nothing is stopping it and no registered
 * check names a reason (a loader group failing, Kafka unreachable, a full volume). The reasons are served with the
 * 503, so an operator sees why without reading logs.
 */
export class Readiness {
  private started = false;
  private readonly checks = new Map<string, ReadinessCheck>();

  /** the service's stop (`Shutdown.signal`): not ready from the moment it is aborted */
  constructor(private readonly stopSignal: AbortSignal = new AbortController().signal) {}

  setStarted(started: boolean): void {
    this.started = started;
  }

  /** Registers a named check (a second one of the same name replaces the first). */
  add(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  /** Why the service is not ready, per check; empty when it is. */
  reasons(): Record<string, string> {
    const reasons: Record<string, string> = {};
    if (this.stopSignal.aborted) reasons.stopping = 'shutting down';
    else if (!this.started) reasons.starting = 'starting';
    for (const [name, check] of this.checks) {
      const reason = check();
      if (reason !== null) reasons[name] = reason;
    }
    return reasons;
  }
}
