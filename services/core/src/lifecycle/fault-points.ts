import type { Logger } from '../logging/logger.js';

/**
 * Test fault injection: a unit tells its fault points each time it passes one; the tests' crash hooks make the
 * process die there. Injected, so unit tests pass their own (one that throws, say) and production code has no hook.
 */
export interface FaultPoints<P extends string> {
  reached(point: P): void;
}

/** For units built without fault injection. */
export const NO_FAULTS: FaultPoints<never> = { reached: () => undefined };

/**
 * The crash hooks of a service: each point with the variable (declared by `setting.testCrashHook`) that names the
 * pass to die at, counted over the whole process (0: never). Passing it, the process SIGKILLs itself: it dies like
 * a power cut, no shutdown step runs.
 */
export function crashHooks<P extends string>(
  hooks: Record<P, string>,
  config: Readonly<Record<string, unknown>>,
  logger: Logger,
  kill: () => void = () => process.kill(process.pid, 'SIGKILL'),
): FaultPoints<P> {
  const points = Object.keys(hooks) as P[];
  // a hook that is not a declared setting would never fire, and the test relying on it would prove nothing
  for (const point of points) if (!(hooks[point] in config)) throw new Error(`crash hook ${hooks[point]} of ${point} is not a declared setting`);
  const limitOf = (point: P) => Number(config[hooks[point]] ?? 0);
  if (points.some((point) => limitOf(point) > 0)) logger.warn('test fault-injection hooks are set: this process will SIGKILL itself');
  const passed = new Map<P, number>();
  return {
    reached(point) {
      const count = (passed.get(point) ?? 0) + 1;
      passed.set(point, count);
      if (count !== limitOf(point)) return;
      logger.warn({ hook: hooks[point] }, 'fault injection: SIGKILL now');
      kill();
    },
  };
}
