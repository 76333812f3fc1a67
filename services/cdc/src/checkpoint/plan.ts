import type { Checkpoint } from './checkpoint.js';
import type { ClusterTime } from '@cdc/core';

export type SnapshotMode = 'never' | 'initial' | 'when_no_offset';

/** Where a snapshot cut short by a crash goes on from. */
export interface SnapshotResume {
  snapshotAt: ClusterTime;
  lastId: string | null;
  /** snapshot events published before the crash */
  events: number;
  replacesHistory: boolean;
}

export type StartPlan =
  | { action: 'snapshot'; resumeFrom: SnapshotResume | null }
  | { action: 'stream'; from: { kind: 'token'; token: string } | { kind: 'after-end'; token: string } | { kind: 'time'; at: ClusterTime } | { kind: 'now' } };

/** Decide from the saved checkpoint whether to (re)start a snapshot or stream, and from where. */
export function planStart(checkpoint: Checkpoint | null, mode: SnapshotMode): StartPlan {
  if (checkpoint === null) {
    return mode === 'never' ? { action: 'stream', from: { kind: 'now' } } : { action: 'snapshot', resumeFrom: null };
  }
  if (checkpoint.phase === 'snapshot') {
    // A crashed snapshot continues after the last _id it committed, with its original start time.
    const resumeFrom = { snapshotAt: checkpoint.snapshot_at, lastId: checkpoint.last_id, events: checkpoint.events ?? 0, replacesHistory: checkpoint.replaces_history === true };
    return { action: 'snapshot', resumeFrom };
  }
  if (checkpoint.resume_token !== null) {
    return { action: 'stream', from: { kind: checkpoint.start_after ? 'after-end' : 'token', token: checkpoint.resume_token } };
  }
  if (checkpoint.start_at !== null) return { action: 'stream', from: { kind: 'time', at: checkpoint.start_at } };
  return { action: 'stream', from: { kind: 'now' } };
}
