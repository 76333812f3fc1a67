import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoServerError, Timestamp } from 'mongodb';
import { Registry } from 'prom-client';
import { createLogger, FatalError, type ClusterTime, type OutgoingMessage } from '@cdc/core';
import { createCdcMetrics } from './metrics.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint/checkpoint.js';
import type { SnapshotResume } from './checkpoint/plan.js';
import type { ResumePoint } from './source/change-source.js';
import { BatchCommitter, streamCheckpoint, type CheckpointLog } from './phases/committer.js';
import { StreamRunner, type StreamRunnerDeps } from './stream-runner.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const NOW = { t: 1764151900, i: 1 };
const SNAPSHOT_AT = { t: 1764151800, i: 2 };
const historyLost = () => new MongoServerError({ message: 'resume point may no longer be in the oplog', code: 286, codeName: 'ChangeStreamHistoryLost' });
const tooLarge = () => new MongoServerError({ message: 'BSONObjectTooLarge', code: 10334, codeName: 'BSONObjectTooLarge' });

/**
 * A runner over fakes: checkpoints and transactions in memory, a snapshot phase that returns its start time, a
 * streaming phase that takes its outcomes from `streaming` in turn (a resume point to return, or an error to throw)
 * and stops the runner once they run out.
 */
function harness(options: { checkpoint?: Checkpoint; snapshotMode?: 'never' | 'initial'; onHistoryLost?: 'fail' | 'resnapshot'; streaming?: (ResumePoint | Error)[]; onDemand?: true } = {}) {
  const committed: OutgoingMessage[][] = [];
  if (options.checkpoint) committed.push([{ topic: 'checkpoints', message: { key: 's', value: encodeCheckpoint(options.checkpoint) } }]);
  const checkpoints: CheckpointLog = {
    message: (checkpoint) => ({ topic: 'checkpoints', message: { key: 's', value: encodeCheckpoint(checkpoint) } }),
    load: async () => {
      const last = committed.at(-1)?.find((m) => m.topic === 'checkpoints');
      return last ? decodeCheckpoint(last.message.value as Buffer) : null;
    },
  };
  const log: string[] = [];
  const outcomes = [...(options.streaming ?? [])];
  const stop = new AbortController();
  const deps: StreamRunnerDeps = {
    settings: { streamId: 's', snapshotMode: options.snapshotMode ?? 'initial', onHistoryLost: options.onHistoryLost ?? 'fail', splitLargeEvents: false, fullDocumentBeforeChange: 'off' },
    checkpoints,
    clusterTimeNow: async () => new Timestamp({ t: NOW.t, i: NOW.i }),
    logger,
    signal: stop.signal,
    ...(options.onDemand
      ? {
          onDemand: {
            streaming: async (from: ResumePoint, checkpoint: Checkpoint | null) =>
              void log.push(`re-snapshots from ${from.kind === 'time' ? `time ${from.at.high}` : from.kind}, recorded: ${checkpoint?.phase === 'stream' ? JSON.stringify(checkpoint.collections ?? {}) : 'none'}`),
            stop: async () => void log.push('re-snapshots stopped'),
          },
        }
      : {}),
    units: (signal) => ({
      committer: new BatchCommitter('s', { publish: async (messages) => void committed.push(messages) }, checkpoints, createCdcMetrics(new Registry()), signal),
      snapshot: {
        run: async (resumeFrom: SnapshotResume | null, replacesHistory = false): Promise<ClusterTime> => {
          log.push(`snapshot ${resumeFrom ? `after ${resumeFrom.lastId}` : 'from the start'}${replacesHistory ? ', replacing history' : ''}`);
          return SNAPSHOT_AT;
        },
      },
      streaming: {
        run: async (from: ResumePoint): Promise<ResumePoint> => {
          log.push(`stream from ${from.kind === 'time' ? `time ${from.at.high}` : from.kind === 'now' ? 'now' : `${from.kind} ${from.token}`}`);
          const outcome = outcomes.shift();
          if (outcome instanceof Error) throw outcome;
          if (outcomes.length === 0) stop.abort();
          return outcome ?? from;
        },
      },
    }),
  };
  const runner = new StreamRunner(deps);
  const checkpointsCommitted = () => committed.map((tx) => decodeCheckpoint(tx.find((m) => m.topic === 'checkpoints')!.message.value as Buffer));
  return { runner, log, checkpointsCommitted };
}

test('no checkpoint: a snapshot, then streaming from its start time until stopped', async () => {
  const h = harness();
  await h.runner.run();
  assert.deepEqual(h.log, ['snapshot from the start', `stream from time ${SNAPSHOT_AT.t}`], 'ends once the stop signal is aborted');
});

test('no checkpoint and no snapshot wanted: the start time is committed before the first read, and streaming starts there', async () => {
  const h = harness({ snapshotMode: 'never' });
  await h.runner.run();
  const [first] = h.checkpointsCommitted();
  assert.deepEqual(first && first.phase === 'stream' ? [first.resume_token, first.start_at] : null, [null, NOW]);
  assert.deepEqual(h.log.slice(0, 1), [`stream from time ${NOW.t}`]);
  assert.deepEqual(h.runner.resumePoint, NOW);
});

test('a stream checkpoint: streaming resumes after its token; its cluster time is the resume point from the start', async () => {
  const token = '8267B5A0C8000000012B0229296E04';
  const h = harness({ checkpoint: streamCheckpoint(token, null) });
  await h.runner.run();
  assert.deepEqual(h.log.slice(0, 1), [`stream from token ${token}`]);
  assert.deepEqual(h.runner.resumePoint, { t: 0x67b5a0c8, i: 1 });
});

test('a snapshot cut short: it resumes after its last _id', async () => {
  const h = harness({ checkpoint: { version: 1, phase: 'snapshot', snapshot_at: SNAPSHOT_AT, last_id: '{"$numberInt":"4"}', updated_at: '' } });
  await h.runner.run();
  assert.deepEqual(h.log.slice(0, 2), ['snapshot after {"$numberInt":"4"}', `stream from time ${SNAPSHOT_AT.t}`]);
});

test('an invalidate reopened: streaming goes on from where the phase returned', async () => {
  const h = harness({ checkpoint: streamCheckpoint('T1', null), streaming: [{ kind: 'after-end', token: 'T9' }, { kind: 'token', token: 'T9' }] });
  await h.runner.run();
  assert.deepEqual(h.log.slice(0, 2), ['stream from token T1', 'stream from after-end T9']);
});

test('history lost with CDC_ON_HISTORY_LOST=fail: a FatalError that says how to recover, no snapshot', async () => {
  const h = harness({ checkpoint: streamCheckpoint('T1', null), streaming: [historyLost()] });
  await assert.rejects(h.runner.run(), (error: unknown) => error instanceof FatalError && error.reason === 'history-lost' && /CDC_ON_HISTORY_LOST=resnapshot/.test(error.message));
  assert.ok(!h.log.some((line) => line.startsWith('snapshot')));
});

test('history lost with CDC_ON_HISTORY_LOST=resnapshot: a snapshot replacing the history, then streaming from its start', async () => {
  const h = harness({ checkpoint: streamCheckpoint('T1', null), onHistoryLost: 'resnapshot', streaming: [historyLost(), { kind: 'token', token: 'T2' }] });
  await h.runner.run();
  assert.deepEqual(h.log.slice(0, 3), ['stream from token T1', 'snapshot from the start, replacing history', `stream from time ${SNAPSHOT_AT.t}`]);
});

test('a change event too large to read: a FatalError naming CDC_SPLIT_LARGE_EVENTS, not a restart into it', async () => {
  const h = harness({ checkpoint: streamCheckpoint('T1', null), streaming: [tooLarge()] });
  await assert.rejects(h.runner.run(), (error: unknown) => error instanceof FatalError && error.reason === 'event-too-large' && /CDC_SPLIT_LARGE_EVENTS=true/.test(error.message));
});

test('any other streaming error ends the run as it is', async () => {
  const h = harness({ checkpoint: streamCheckpoint('T1', null), streaming: [new Error('network')] });
  await assert.rejects(h.runner.run(), /^Error: network$/);
});

test("a collection's own stream: its re-snapshot on demand resumes from the checkpoint as streaming starts, and stops for a snapshot replacing a lost history", async () => {
  const inProgress = { 'shop.orders': { phase: 'snapshot' as const, snapshot_at: SNAPSHOT_AT, last_id: '7', events: 7, filter: '{"status":"open"}' } };
  const h = harness({ checkpoint: { ...streamCheckpoint('T1', null), collections: inProgress }, onHistoryLost: 'resnapshot', streaming: [historyLost(), { kind: 'token', token: 'T2' }], onDemand: true });
  await h.runner.run();
  assert.deepEqual(h.log.slice(0, 6), [
    `re-snapshots from token, recorded: ${JSON.stringify(inProgress)}`,
    'stream from token T1',
    're-snapshots stopped',
    'snapshot from the start, replacing history',
    `re-snapshots from time ${SNAPSHOT_AT.t}, recorded: none`,
    `stream from time ${SNAPSHOT_AT.t}`,
  ]);
});
