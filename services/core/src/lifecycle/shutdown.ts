import type { Logger } from '../logging/logger.js';

export type ShutdownStep = { name: string; run: () => Promise<void> | void };

/**
 * Graceful shutdown: on SIGTERM/SIGINT run the registered steps in reverse order of registration
 * (stop intake first, close clients last), and exit within a deadline even if a step hangs.
 * `signal` is the service's one "stopping": aborted as the shutdown starts, before the first step.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private started: Promise<void> | null = null;
  private readonly controller = new AbortController();

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs: number,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
    private readonly kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
  ) {}

  /** Steps run last-registered first: register clients before the loops that use them. */
  register(name: string, run: () => Promise<void> | void): void {
    this.steps.push({ name, run });
  }

  installSignalHandlers(): void {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        this.logger.info({ signal }, 'shutdown requested');
        void this.run(0);
      });
    }
  }

  /** Aborted once the shutdown has begun: loops end, retries give up, waits under way end at once. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Ends the process at once, no steps: SIGKILL to itself (status 137 to the supervisor). process.exit is no way
   * out when something hangs: on exit Node joins libuv's pool threads, and a native call stuck in one (a wedged
   * Kafka client) would keep the process there for ever.
   */
  abort(reason: string): void {
    this.controller.abort();
    this.logger.error(`${reason}: killing the process`);
    this.kill();
  }

  /** Run every step once; a failing step is logged and the next still runs. */
  run(exitCode = 0): Promise<void> {
    if (this.started) return this.started;
    this.controller.abort();
    this.started = (async () => {
      const timer = setTimeout(() => this.abort(`shutdown deadline of ${this.deadlineMs} ms exceeded`), this.deadlineMs);
      timer.unref();
      let code = exitCode;
      for (const step of [...this.steps].reverse()) {
        try {
          await step.run();
          this.logger.debug({ step: step.name }, 'shutdown step done');
        } catch (error) {
          code = code || 1;
          this.logger.error({ step: step.name, err: error }, 'shutdown step failed');
        }
      }
      clearTimeout(timer);
      this.logger.info({ exitCode: code }, 'shutdown complete');
      this.exit(code);
    })();
    return this.started;
  }
}
