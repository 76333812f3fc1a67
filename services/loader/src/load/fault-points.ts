import type { FaultPoints } from '@cdc/core';

/** Where the tests' crash hooks can kill the loader, each right after its step. */
export type CrashPoint = 'upload' | 'append' | 'load' | 'insert' | 'merge' | 'snapshot_deletes' | 'mark';

export type LoaderFaultPoints = FaultPoints<CrashPoint>;

/**
 * The hook of each point: SIGKILL right after the N-th file uploaded / group appended (storage-write) / group staged / inserted / merged /
 * snapshot's delete rows inserted (not merged) / file marked.
 */
export const LOADER_CRASH_HOOKS: Record<CrashPoint, string> = {
  upload: 'LOADER_TEST_CRASH_AFTER_UPLOAD',
  append: 'LOADER_TEST_CRASH_AFTER_APPEND',
  load: 'LOADER_TEST_CRASH_AFTER_LOAD',
  insert: 'LOADER_TEST_CRASH_AFTER_INSERT',
  merge: 'LOADER_TEST_CRASH_AFTER_MERGE',
  snapshot_deletes: 'LOADER_TEST_CRASH_AFTER_SNAPSHOT_DELETES',
  mark: 'LOADER_TEST_CRASH_AFTER_MARK',
};
