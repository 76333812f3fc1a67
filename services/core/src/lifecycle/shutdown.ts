import type { Logger } from '../logging/logger.js';

export type ShutdownStep = { name: string; run: () => Promise<void> | void };

/**
 * Graceful shutdown: on SIGTERM/SIGINT run the registered steps in reverse order of registration
 * (stop intake first, close clients last), and exit within a deadline even if a step hangs.
 */
export class Shutdown {
  private readonly steps: ShutdownStep[] = [];
  private started: Promise<void> | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly deadlineMs: number,
    private readonly exit: (code: number) => void = (code) => process.exit(code),
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

  get requested(): boolean {
    return this.started !== null;
  }

  /** Run every step once; a failing step is logged and the next still runs. */
  run(exitCode = 0): Promise<void> {
    if (this.started) return this.started;
    this.started = (async () => {
      const timer = setTimeout(() => {
        this.logger.error({ deadlineMs: this.deadlineMs }, 'shutdown deadline exceeded, exiting');
        this.exit(exitCode === 0 ? 1 : exitCode);
      }, this.deadlineMs);
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
