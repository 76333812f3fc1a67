import type { Logger } from '@cdc/core';

/** Where the tests' crash hooks (LOADER_TEST_CRASH_AFTER_<POINT>) can kill the loader, each right after its step. */
export type CrashPoint = 'upload' | 'load' | 'insert' | 'merge' | 'snapshot_deletes' | 'mark';

/** Told each time the group load passes a crash point. */
export interface FaultPoints {
  reached(point: CrashPoint): void;
}

/**
 * Test fault injection: SIGKILL right after the N-th file uploaded / group staged / inserted / merged / snapshot's
 * delete rows inserted (not merged) / file marked (0: never).
 */
export function crashAfter(limits: Record<CrashPoint, number>, logger: Logger): FaultPoints {
  const counts: Record<CrashPoint, number> = { upload: 0, load: 0, insert: 0, merge: 0, snapshot_deletes: 0, mark: 0 };
  return {
    reached(point) {
      if (++counts[point] !== limits[point]) return;
      logger.warn({ hook: `LOADER_TEST_CRASH_AFTER_${point.toUpperCase()}` }, 'fault injection: SIGKILL now');
      process.kill(process.pid, 'SIGKILL');
    },
  };
}
