import type { FaultPoints } from '@cdc/core';

/**
 * Where the tests' crash hooks can kill the processor in a batch's commit, counted over all partitions: `rename`,
 * the batch's file is renamed into place and its transaction not begun; `commit`, the transaction is committed and
 * the commit not logged.
 */
export type ProcessorFaultPoint = 'rename' | 'commit';

export type ProcessorFaultPoints = FaultPoints<ProcessorFaultPoint>;

export const PROCESSOR_CRASH_HOOKS: Record<ProcessorFaultPoint, string> = {
  rename: 'PROCESSOR_TEST_CRASH_AFTER_RENAME',
  commit: 'PROCESSOR_TEST_CRASH_AFTER_COMMIT',
};
