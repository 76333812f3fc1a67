import type { Logger } from '@cdc/core';

/** Test fault injection: the points of a batch's commit where the fault tests make the processor die. */
export interface FaultPoints {
  /** the batch's file is renamed into place; its transaction is not begun */
  afterRename(): void;
  /** the batch's transaction is committed; the commit is not logged */
  afterCommit(): void;
}

export const NO_FAULTS: FaultPoints = { afterRename: () => undefined, afterCommit: () => undefined };

/**
 * SIGKILL when a point is passed for the n-th time in the process (0: never), counted over all partitions: dies
 * like a power cut, no shutdown steps.
 */
export function sigkillFaultPoints(counts: { afterRename: number; afterCommit: number }, logger: Logger): FaultPoints {
  const killAt = (limit: number, hook: string) => {
    let passed = 0;
    return () => {
      if (++passed !== limit) return;
      logger.warn({ hook }, 'fault injection: SIGKILL now');
      process.kill(process.pid, 'SIGKILL');
    };
  };
  return {
    afterRename: killAt(counts.afterRename, 'PROCESSOR_TEST_CRASH_AFTER_RENAME'),
    afterCommit: killAt(counts.afterCommit, 'PROCESSOR_TEST_CRASH_AFTER_COMMIT'),
  };
}
