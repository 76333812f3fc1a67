import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Logger } from '@cdc/core';
import type { GroupLag } from './kafka-lag.js';
import type { LagRequest } from './kafka-lag-worker.js';
import type { KafkaReading } from './pipeline-state.js';

const WORKER = fileURLToPath(new URL('./kafka-lag-worker.js', import.meta.url));

/** The groups' lag from the Kafka reader child process (kafka-lag-worker.ts), forked again when it died. */
export class KafkaReader {
  private child: ChildProcess | null = null;
  private waiting: { id: number; resolve: (reading: KafkaReading) => void } | null = null;
  private nextId = 0;

  constructor(
    private readonly logger: Logger,
    /** the reader's script (a test gives one that dies) */
    private readonly worker: string = WORKER,
  ) {}

  /** one reading; an answer later than `timeoutMs` counts as none (the next call waits for it instead of asking again) */
  read(timeoutMs: number): Promise<KafkaReading> {
    if (this.waiting) return Promise.resolve({ lag: null, error: 'no answer yet to the previous request' });
    const child = this.child ?? this.start();
    const id = ++this.nextId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ lag: null, error: `no answer within ${timeoutMs / 1000} s` }), timeoutMs);
      this.waiting = {
        id,
        resolve: (reading) => {
          clearTimeout(timer);
          resolve(reading);
        },
      };
      child.send({ id, timeoutMs: Math.floor(timeoutMs / 3) } satisfies LagRequest);
    });
  }

  stop(): void {
    this.child?.kill('SIGTERM');
    this.child = null;
  }

  private start(): ChildProcess {
    const child = fork(this.worker, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (reply: { id: number; lag: GroupLag[] | null; error: string | null }) => {
      if (this.waiting?.id !== reply.id) return;
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ lag: reply.lag, error: reply.error });
    });
    child.on('exit', (code, signal) => {
      if (this.child !== child) return;
      this.child = null;
      const why = `the Kafka reader process ended (${signal ?? `exit ${code}`}); it starts again at the next reading`;
      this.logger.warn({ code, signal }, why);
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.resolve({ lag: null, error: why });
    });
    this.child = child;
    return child;
  }
}
