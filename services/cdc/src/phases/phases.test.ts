import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Int32, type Document } from 'mongodb';
import { Registry } from 'prom-client';
import { createLogger, decodeSnapshotComplete, FatalError, type OutgoingMessage } from '@cdc/core';
import { createCdcMetrics } from '../metrics.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.js';
import type { Publisher, PublishOptions } from '../sink/transactional-publisher.js';
import type { ChangeBatch } from '../source/change-batcher.js';
import { BatchCommitter, type CheckpointLog } from './committer.js';
import { clusterTimeAfter } from '../transform/to-envelope.js';
import { SnapshotPhase } from './snapshot-phase.js';
import { StreamingPhase, type ChangeBatches } from './streaming-phase.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const AT = { t: 1764151872, i: 3 };
/** the service's stop signal of a service not stopping */
const running = new AbortController().signal;

/** A publisher and a checkpoint log that keep what was committed in memory; `failures` fail the next publishes. */
function fakes(options: { failures?: ('fail' | 'land')[] } = {}) {
  const committed: OutgoingMessage[][] = [];
  const failures = [...(options.failures ?? [])];
  const publisher: Publisher = {
    publish: async (messages: OutgoingMessage[], opts: PublishOptions = {}) => {
      for (let attempt = 1; ; attempt++) {
        if (attempt > 1 && (await opts.committedAlready?.())) return;
        const failure = failures.shift();
        if (failure === 'land') committed.push(messages);
        if (failure) continue;
        committed.push(messages);
        return;
      }
    },
  };
  const checkpoints: CheckpointLog = {
    message: (checkpoint: Checkpoint) => ({ topic: 'checkpoints', message: { key: 'shop.orders', value: encodeCheckpoint(checkpoint) } }),
    load: async () => {
      const all = committed.flat().filter((m) => m.topic === 'checkpoints' && m.message.key === 'shop.orders');
      return all.length === 0 ? null : decodeCheckpoint(all[all.length - 1]!.message.value as Buffer);
    },
  };
  const metrics = createCdcMetrics(new Registry());
  const committer = new BatchCommitter('shop.orders', publisher, checkpoints, metrics, running);
  const checkpointsOf = () => committed.map((tx) => decodeCheckpoint(tx.find((m) => m.topic === 'checkpoints')!.message.value as Buffer));
  return { committed, committer, metrics, checkpointsOf };
}

test('snapshot: each batch is committed with a resumable checkpoint, then a stream checkpoint just after the snapshot time', async () => {
  const f = fakes();
  const docs = [1, 2, 3, 4, 5].map((n) => ({ _id: new Int32(n), n }));
  let lastId: string | null = null;
  const opened: (string | null)[] = [];
  const phase = new SnapshotPhase({
    committer: f.committer,
    openReader: (from) => {
      opened.push(from);
      let position = 0;
      return {
        nextBatch: async (): Promise<Document[]> => {
          const batch = docs.slice(position, position + 2);
          position += batch.length;
          if (batch.length > 0) lastId = JSON.stringify({ $numberInt: String(batch[batch.length - 1]!.n) });
          return batch;
        },
        get lastIdJson() {
          return lastId;
        },
      };
    },
    clusterTimeNow: async () => AT,
    metrics: f.metrics,
    logger,
    settings: { streamId: 'shop.orders', db: 'shop', coll: 'orders', topic: 'orders-cdc', instance: 'cdc-0', maxMessageBytes: 100_000 },
    signal: running,
  });
  assert.deepEqual(await phase.run(null), clusterTimeAfter(AT), 'the stream starts just after the snapshot time');
  assert.deepEqual(opened, [null]);
  assert.deepEqual(
    f.committed.map((tx) => tx.filter((m) => m.topic === 'orders-cdc').length),
    [2, 2, 1, 0],
    'three batches of events, then the checkpoint alone',
  );
  const checkpoints = f.checkpointsOf();
  assert.deepEqual(
    checkpoints.slice(0, 3).map((c) => (c.phase === 'snapshot' ? [c.snapshot_at, c.last_id] : null)),
    [
      [AT, '{"$numberInt":"2"}'],
      [AT, '{"$numberInt":"4"}'],
      [AT, '{"$numberInt":"5"}'],
    ],
  );
  const last = checkpoints[3]!;
  assert.equal(last.phase, 'stream');
  assert.deepEqual(last.phase === 'stream' ? [last.resume_token, last.start_at] : null, [null, clusterTimeAfter(AT)], 'the stream starts just after the write the snapshot started at');
});

test('snapshot: a stop request ends it with exit code 0 before the next batch', async () => {
  const f = fakes();
  const phase = new SnapshotPhase({
    committer: f.committer,
    openReader: () => ({ nextBatch: async () => [{ _id: 1 }], lastIdJson: '1' }),
    clusterTimeNow: async () => AT,
    metrics: f.metrics,
    logger,
    settings: { streamId: 'shop.orders', db: 'shop', coll: 'orders', topic: 'orders-cdc', instance: 'cdc-0', maxMessageBytes: 100_000 },
    signal: AbortSignal.abort(),
  });
  await assert.rejects(phase.run(null), (error: unknown) => error instanceof FatalError && error.exitCode === 0);
  assert.equal(f.committed.length, 0);
});

function batch(token: string | null, extra: Partial<ChangeBatch> = {}): ChangeBatch {
  const messages = token === null ? [] : [{ topic: 'orders-cdc', message: { key: 'k', value: token } }];
  return { messages, lastToken: token, positionOnly: false, lastClusterTime: AT, ops: token === null ? [] : [['insert', 1]], bytes: 10, deadLetters: [], streamEnds: [], reopenAfter: null, fatal: null, ...extra };
}

/** The batches in order, then empty ones; `stop` is aborted as the last of them is handed over. */
function scripted(batches: ChangeBatch[], stop?: AbortController): ChangeBatches & { closed: boolean } {
  const queue = [...batches];
  return {
    closed: false,
    next: async () => {
      const next = queue.shift() ?? batch(null);
      if (queue.length === 0) stop?.abort();
      return next;
    },
    async close() {
      this.closed = true;
    },
  };
}

test('streaming: every batch with changes is committed with its last token; empty batches commit nothing', async () => {
  const f = fakes();
  // stops once both batches with changes are committed
  const stop = new AbortController();
  const batches = scripted([batch('T1'), batch(null), batch('T2')], stop);
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => batches,
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 60_000,
    signal: stop.signal,
  });
  const from = { kind: 'time' as const, at: null as never };
  assert.equal(await phase.run(from), from, 'a stopped stream resumes where it was');
  assert.deepEqual(
    f.checkpointsOf().map((c) => (c.phase === 'stream' ? c.resume_token : null)),
    ['T1', 'T2'],
  );
  assert.ok(batches.closed, 'the change stream is closed');
});

test('streaming: a failed transaction that had committed is not sent again', async () => {
  const f = fakes({ failures: ['land'] });
  const stop = new AbortController();
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => scripted([batch('T1')], stop),
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 60_000,
    signal: stop.signal,
  });
  await phase.run({ kind: 'time', at: null as never });
  assert.equal(f.committed.length, 1, 'committed once, although the client saw a failure');
});

test('streaming: a stream end with CDC_ON_STREAM_END=stop commits the changes before it, then stops with exit code 3', async () => {
  const f = fakes();
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => scripted([batch('T1', { fatal: 'collection dropped', streamEnds: [{ type: 'drop', resume_token: 'T1' }] })]),
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 60_000,
    signal: running,
  });
  await assert.rejects(phase.run({ kind: 'time', at: null as never }), (error: unknown) => error instanceof FatalError && error.exitCode === 3 && /dropped/.test(error.message));
  assert.deepEqual(f.checkpointsOf().map((c) => (c.phase === 'stream' ? c.resume_token : null)), ['T1']);
});

test('streaming: an invalidate with reopen returns the point after it, checkpointed with start_after', async () => {
  const f = fakes();
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => scripted([batch('T9', { reopenAfter: 'T9' })]),
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 60_000,
    signal: running,
  });
  assert.deepEqual(await phase.run({ kind: 'time', at: null as never }), { kind: 'after-end', token: 'T9' });
  const [checkpoint] = f.checkpointsOf();
  assert.equal(checkpoint!.phase === 'stream' && checkpoint!.start_after, true);
});

/** Position-only batches (a quiet stream's postBatchResumeToken), as the batcher hands them over. */
const position = (token: string): ChangeBatch => batch(null, { lastToken: token, positionOnly: true, lastClusterTime: null });

test('streaming: a quiet stream commits its position alone once a heartbeat is due, never a position already committed', async () => {
  const f = fakes();
  let now = 0;
  // each step: the clock when the batch is read, then the batch
  const steps: [number, ChangeBatch][] = [
    [0, position('P1')], // due at once after opening
    [10_000, position('P2')], // 10 s later: not due
    [20_000, batch('T3')], // a change: always committed, and the heartbeat counts from it
    [70_000, position('P4')], // 50 s after the change: not due
    [80_000, position('P5')], // 60 s after it: due
    [200_000, position('P5')], // due, but nothing new
    [260_000, position('P6')],
  ];
  let read = 0;
  const stop = new AbortController();
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => ({
      next: async () => {
        const [at, next] = steps[read++]!;
        if (read >= steps.length) stop.abort();
        now = at;
        return next;
      },
        close: async () => undefined,
    }),
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 60_000,
    now: () => now,
    signal: stop.signal,
  });
  await phase.run({ kind: 'token', token: 'P0' });
  assert.deepEqual(
    f.checkpointsOf().map((c) => (c.phase === 'stream' ? c.resume_token : null)),
    ['P1', 'T3', 'P5', 'P6'],
  );
  assert.deepEqual(f.committed.map((tx) => tx.length), [1, 2, 1, 1], 'heartbeat transactions hold the checkpoint alone');
  assert.equal((await f.metrics.heartbeats.get()).values[0]?.value, 3);
});

test('streaming: the position the stream was opened at is not committed again as a heartbeat', async () => {
  const f = fakes();
  const stop = new AbortController();
  const phase = new StreamingPhase({
    committer: f.committer,
    open: () => scripted([position('P0'), position('P1')], stop),
    metrics: f.metrics,
    logger,
    streamId: 'shop.orders',
    heartbeatIntervalMs: 1,
    signal: stop.signal,
  });
  await phase.run({ kind: 'token', token: 'P0' });
  assert.deepEqual(f.checkpointsOf().map((c) => (c.phase === 'stream' ? c.resume_token : null)), ['P1']);
  assert.deepEqual(f.committer.resumePoint, null, 'a fake token tells no cluster time');
});

test('snapshot replacing a lost history: its last transaction holds the snapshot-complete marker with the count, once', async () => {
  const f = fakes();
  const docs = [1, 2, 3].map((n) => ({ _id: new Int32(n), n }));
  const phase = new SnapshotPhase({
    committer: f.committer,
    openReader: (from) => {
      // resumed after _id 1 by a restart: documents 2 and 3 are left
      let position = from === null ? 0 : 1;
      return {
        nextBatch: async () => docs.slice(position, (position += 2)),
        lastIdJson: null,
      };
    },
    clusterTimeNow: async () => AT,
    metrics: f.metrics,
    logger,
    settings: { streamId: 'shop.orders', db: 'shop', coll: 'orders', topic: 'orders-cdc', instance: 'cdc-0', maxMessageBytes: 100_000 },
    signal: running,
  });
  await phase.run({ snapshotAt: AT, lastId: '{"$numberInt":"1"}', events: 1, replacesHistory: true });
  const checkpoints = f.checkpointsOf();
  assert.deepEqual(
    checkpoints.map((c) => (c.phase === 'snapshot' ? [c.events, c.replaces_history] : c.phase)),
    [[3, true], 'stream'],
    'the snapshot checkpoints keep the count and the flag across a restart',
  );
  const events = f.committed.map((tx) => tx.filter((m) => m.topic === 'orders-cdc').map((m) => JSON.parse(String(m.message.value)) as { op: string; document: string; cluster_time: unknown; source: { instance: string } }));
  assert.deepEqual(events.map((tx) => tx.map((e) => e.op)), [['snapshot', 'snapshot'], ['snapshot_complete']], 'the marker comes with the last checkpoint, after every snapshot event');
  const marker = events[1]![0]!;
  assert.deepEqual(decodeSnapshotComplete(marker.document), { snapshot_events: 3 }, 'one published before the restart, two after');
  assert.deepEqual([marker.cluster_time, marker.source.instance], [AT, 'cdc-0'], 'it names the snapshot: start time and instance');
});

test('snapshot not replacing a lost history (initial): no marker', async () => {
  const f = fakes();
  const phase = new SnapshotPhase({
    committer: f.committer,
    openReader: () => ({ nextBatch: async () => [], lastIdJson: null }),
    clusterTimeNow: async () => AT,
    metrics: f.metrics,
    logger,
    settings: { streamId: 'shop.orders', db: 'shop', coll: 'orders', topic: 'orders-cdc', instance: 'cdc-0', maxMessageBytes: 100_000 },
    signal: running,
  });
  await phase.run(null);
  assert.deepEqual(f.committed.map((tx) => tx.length), [1], 'the stream checkpoint alone');
});

test('snapshot stamp (the copy\'s low watermark): read before the first chunk, kept by a resume, so every chunk row is older than a change made while it is read', async () => {
  const f = fakes();
  let clock = 100;
  const reads: number[] = [];
  let stampedAt: number | null = null;
  const docs = [1, 2, 3, 4].map((n) => ({ _id: new Int32(n), n }));
  const phaseOf = () =>
    new SnapshotPhase({
      committer: f.committer,
      openReader: (from) => {
        let position = from === null ? 0 : 2;
        return {
          // a change is made (the cluster time moves) before each chunk is read
          nextBatch: async () => (reads.push(++clock), docs.slice(position, (position += 2))),
          lastIdJson: null,
        };
      },
      clusterTimeNow: async () => ({ t: (stampedAt = clock), i: 0 }),
      metrics: f.metrics,
      logger,
      settings: { streamId: 'shop.orders', db: 'shop', coll: 'orders', topic: 'orders-cdc', instance: 'cdc-0', maxMessageBytes: 100_000 },
      signal: running,
    });
  const at = await phaseOf().run(null);
  assert.equal(stampedAt, 100);
  assert.ok(reads.every((t) => t > at.t), 'every chunk read after the stamp: a change made meanwhile is newer than its rows');
  stampedAt = null;
  await phaseOf().run({ snapshotAt: at, lastId: '{"$numberInt":"2"}', events: 2, replacesHistory: false });
  assert.equal(stampedAt, null, 'a resume keeps the stamp: no new time read');
  const stamps = f.committed.flat().filter((m) => m.topic === 'orders-cdc').map((m) => (JSON.parse(String(m.message.value)) as { cluster_time: { t: number } }).cluster_time.t);
  assert.deepEqual([...new Set(stamps)], [100], 'every row of the copy, before and after the resume, carries the one stamp');
});
