import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ClientStuckError, createLogger, encodeChangeEvent, FencedError, type Admin, type FatalError, type Batch, type Consumer, type Kafka, type OutgoingMessage } from '@cdc/core';
import { PartitionWorker, type BatchContext, type WorkerDeps } from './partition-worker.js';
import { createProcessorMetrics } from './metrics.js';
import { WorkerStateMachine } from './worker-state.js';
import type { Transactions } from './sink/partition-transactions.js';
import type { FileStore } from './sink/file-store.js';
import { RowArray } from './sink/parquet-writer.js';
import { fileName } from './sink/file-layout.js';
import { sampleEvent } from './test-support/events.js';
import { BatchBudget } from './transform/batch-budget.js';

/** A partition worker wired to fakes: what it commits, seeks, writes and removes is recorded. */
function harness(options: { committed?: number | null; files?: string[]; commitFailures?: (Error | 'land')[]; fenceFailures?: Error[]; maxRows?: number; bucket?: boolean; budget?: BatchBudget } = {}) {
  const state = {
    committed: options.committed ?? null,
    commits: [] as { messages: readonly OutgoingMessage[]; nextOffset: number }[],
    fences: 0,
    seeks: [] as number[],
    written: [] as string[],
    removed: [] as string[],
    failures: [...(options.commitFailures ?? [])],
    fenceFailures: [...(options.fenceFailures ?? [])],
    fatal: [] as FatalError[],
  };
  const transactions: Transactions = {
    fence: async () => {
      state.fences++;
      const failure = state.fenceFailures.shift();
      if (failure) throw failure;
    },
    commit: async (messages, nextOffset) => {
      const failure = state.failures.shift();
      if (failure === 'land') {
        // committed on the broker, but the client saw an error (e.g. a timeout on EndTxn)
        state.committed = nextOffset;
        throw new Error('request timed out');
      }
      if (failure) throw failure;
      state.commits.push({ messages, nextOffset });
      state.committed = nextOffset;
    },
    close: async () => undefined,
  };
  const admin = {
    fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: String(state.committed ?? -1) }] }],
    fetchTopicOffsets: async () => [{ partition: 0, offset: '100', high: '100', low: '0' }],
  } as unknown as Admin;
  const store = {
    compression: 'SNAPPY',
    library: 'fake',
    bucketLocation: options.bucket ? 'gs://bucket/parquet/' : null,
    newRows: () => new RowArray(),
    writeAtomically: async (path: string) => {
      state.written.push(path);
      return { md5: 'bWQ1', crc32c: 'AAAAAA==', bytes: 10 };
    },
    listTopicFiles: async () => (options.files ?? []).map((name) => ({ name, path: `t/dt=2025-11-26/${name}` })),
    remove: async (paths: readonly string[]) => void state.removed.push(...paths),
  } as unknown as FileStore;
  const registry = new Registry();
  const metrics = createProcessorMetrics(registry);
  const deps: WorkerDeps = {
    kafka: {} as Kafka,
    consumer: {} as Consumer,
    admin,
    store,
    metrics,
    logger: createLogger({ service: 'test', level: 'silent' }),
    settings: { groupId: 'g', filesTopic: 'files', limits: { maxRows: options.maxRows ?? 3, maxBytes: 1 << 30, maxAgeMs: 60000 }, transactionTimeoutMs: 1000, fenceWaitMs: 60000 },
    seek: (_t, _p, offset) => void state.seeks.push(offset),
    signal: new AbortController().signal,
    onFatal: (error) => void state.fatal.push(error),
    budget: options.budget ?? new BatchBudget(Number.MAX_SAFE_INTEGER, () => []),
    createTransactions: () => transactions,
  };
  const worker = new PartitionWorker('t', 0, deps);
  const resolved: string[] = [];
  const ctx: BatchContext = {
    resolveOffset: (offset) => void resolved.push(offset),
    isStale: () => false,
  };
  const batch = (offsets: number[], value = (o: number) => Buffer.from(encodeChangeEvent(sampleEvent('insert', o)))): Batch =>
    ({
      topic: 't',
      partition: 0,
      highWatermark: String(Math.max(...offsets) + 1),
      messages: offsets.map((o) => ({ offset: String(o), key: Buffer.from(`k${o}`), value: value(o), timestamp: '0', headers: {}, attributes: 0 })),
    }) as unknown as Batch;
  // consume returns once its records are taken; the file of a batch it closed is written behind it: look once it is done
  const consume = async (records: Batch, context: BatchContext) => {
    await worker.consume(records, context);
    await worker.flushed();
  };
  return { worker, consume, state, ctx, batch, resolved, metrics, registry };
}

const counter = async (registry: Registry, name: string) => (await registry.getSingleMetric(name)!.get()).values.reduce((sum, v) => sum + v.value, 0);

test('a full batch becomes a file and one transaction committing past it', async () => {
  const h = harness();
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.equal(h.state.fences, 1, 'the producer fenced the previous owner before anything else');
  assert.deepEqual(h.state.written, [`t/dt=2025-11-26/${fileName({ topic: 't', partition: 0, firstOffset: 0, lastOffset: 2 })}`]);
  assert.equal(h.state.commits.length, 1);
  const [commit] = h.state.commits;
  assert.equal(commit!.nextOffset, 3);
  assert.deepEqual(commit!.messages.map((m) => m.topic), ['files']);
  assert.equal(String(commit!.messages[0]!.message.key), 't-0');
  const event = JSON.parse(String(commit!.messages[0]!.message.value));
  assert.equal(event.file_id, 't-p0-000000000000-000000000002');
  assert.equal(event.rows, 3);
  assert.deepEqual(h.resolved, ['2'], 'resolved once, up to the last record taken');
  assert.equal(h.worker.committed, 3);
});

test('take-over removes unannounced files and skips records already committed by the previous owner', async () => {
  const announced = fileName({ topic: 't', partition: 0, firstOffset: 0, lastOffset: 4 });
  const leftover = fileName({ topic: 't', partition: 0, firstOffset: 5, lastOffset: 9 });
  const h = harness({ committed: 5, files: [announced, leftover] });
  await h.consume(h.batch([3, 4, 5, 6, 7]), h.ctx);
  assert.deepEqual(h.state.removed, [`t/dt=2025-11-26/${leftover}`]);
  assert.equal(h.state.commits[0]!.nextOffset, 8);
  const event = JSON.parse(String(h.state.commits[0]!.messages[0]!.message.value));
  assert.equal(event.first_offset, 5, 'offsets 3 and 4 were skipped');
  assert.equal(event.rows, 3);
  assert.deepEqual(h.resolved, ['7']);
});

test('with no committed offset a directory keeps the files of the partition; a bucket removes those from the log start (it never replaces an object)', async () => {
  const uploaded = fileName({ topic: 't', partition: 0, firstOffset: 0, lastOffset: 4 });
  const otherPartition = fileName({ topic: 't', partition: 1, firstOffset: 0, lastOffset: 4 });
  const directory = harness({ committed: null, files: [uploaded, otherPartition] });
  await directory.worker.takeOver();
  assert.deepEqual(directory.state.removed, []);
  const bucket = harness({ committed: null, files: [uploaded, otherPartition], bucket: true });
  await bucket.worker.takeOver();
  assert.deepEqual(bucket.state.removed, [`t/dt=2025-11-26/${uploaded}`]);
});

test('a position past the committed offset after take-over seeks back to it', async () => {
  const h = harness({ committed: 5 });
  await h.consume(h.batch([8, 9]), h.ctx);
  assert.deepEqual(h.state.seeks, [5]);
  assert.deepEqual(h.resolved, [], 'nothing is taken from the batch');
  assert.equal(h.state.commits.length, 0);
});

test('poison records are dead-lettered in the transaction; a batch of only poison commits without a file', async () => {
  const h = harness({ maxRows: 1 });
  await h.consume(h.batch([0, 1], (o) => (o === 0 ? Buffer.from('nope') : Buffer.from(encodeChangeEvent(sampleEvent('delete', o))))), h.ctx);
  assert.equal(h.state.commits.length, 1, 'the dead letter rides with the first row');
  assert.deepEqual(h.state.commits[0]!.messages.map((m) => m.topic).sort(), ['files', 't.dlq']);
  await h.consume(h.batch([2, 3], () => Buffer.from('{}')), h.ctx);
  h.worker.tick(Date.now() + 61000);
  await h.worker.closeAndFlush('age');
  const last = h.state.commits[h.state.commits.length - 1]!;
  assert.deepEqual(last.messages.map((m) => m.topic), ['t.dlq', 't.dlq']);
  assert.equal(last.nextOffset, 4);
  assert.equal(await counter(h.registry, 'processor_dead_letters_total'), 3);
});

test('a transient transaction failure is retried after re-claiming the id and checking the committed offset', async () => {
  const h = harness({ commitFailures: [new Error('broker went away')] });
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.equal(h.state.commits.length, 1);
  assert.equal(h.state.fences, 2, 'initial claim + re-claim before the retry');
  assert.equal(h.worker.committed, 3);
  assert.equal(await counter(h.registry, 'processor_transaction_retries_total'), 1);
});

test('a failed commit that had in fact landed is not committed twice', async () => {
  const h = harness({ commitFailures: ['land'] });
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.equal(h.state.commits.length, 0, 'no second transaction announcing the same file');
  assert.equal(h.worker.committed, 3);
  assert.equal(h.worker.state, 'ready');
});

test('fenced: the batch and everything after it is dropped, the position goes back to the committed offset', async () => {
  const h = harness({ commitFailures: [new FencedError(new Error('INVALID_PRODUCER_EPOCH'))], maxRows: 2 });
  await h.consume(h.batch([0, 1, 2, 3]), h.ctx);
  assert.equal(h.worker.state, 'fenced');
  assert.deepEqual(h.state.seeks, [0]);
  assert.equal(h.state.commits.length, 0);
  assert.deepEqual(h.resolved, [], 'nothing taken after the committed offset is resolved: it is all read again');
  // While waiting for the rebalance that explains the fencing, batches are neither processed nor resolved.
  await h.consume(h.batch([0, 1]), h.ctx);
  assert.deepEqual(h.resolved, []);
  assert.equal(h.state.commits.length, 0);
  assert.equal(await counter(h.registry, 'processor_batches_dropped_total'), 1);
});

test('a rebalance while a file is being written drops it before the transaction', async () => {
  const h = harness({ maxRows: 100 });
  await h.consume(h.batch([0, 1]), h.ctx);
  const flushing = h.worker.closeAndFlush('age');
  h.worker.reset('rebalance');
  await flushing;
  assert.equal(h.state.commits.length, 0);
  assert.equal(h.worker.state, 'new', 'must recover again');
});

test('the state machine refuses a transition its table does not list', async () => {
  const h = harness();
  assert.equal(h.worker.state, 'new');
  // fenced is only reachable from ready (a commit refused by a newer owner)
  assert.throws(() => new WorkerStateMachine('t/0').enter('fence'), /no transition from new to fenced/);
  await h.consume(h.batch([0]), h.ctx);
  assert.equal(h.worker.state, 'ready');
});

test('a rebalance during the take-over makes it stale: the partition recovers again before taking records', async () => {
  const h = harness({ committed: 0 });
  const consuming = h.consume(h.batch([0, 1, 2]), h.ctx);
  h.worker.reset('rebalance');
  await consuming;
  assert.equal(h.worker.state, 'new', 'the stale recovery did not make the worker ready');
  assert.equal(h.state.commits.length, 0);
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.equal(h.worker.state, 'ready');
  assert.equal(h.state.commits.length, 1);
});

test('take-over at assignment fences the previous owner before any record arrives; the first batch does not fence again', async () => {
  const h = harness({ committed: 4 });
  assert.equal(await h.worker.takeOver(), true);
  assert.equal(h.worker.state, 'ready');
  assert.equal(h.state.fences, 1, "the old owner's open transaction is ended without waiting for a record");
  assert.equal(h.worker.next, 4);
  await h.consume(h.batch([4, 5, 6]), h.ctx);
  assert.equal(h.state.fences, 1);
  assert.equal(h.state.commits[0]!.nextOffset, 7);
});

test('a batch arriving while the take-over runs waits for it and is then taken', async () => {
  const h = harness({ committed: 0 });
  const takingOver = h.worker.takeOver();
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.equal(await takingOver, true);
  assert.equal(h.state.fences, 1);
  assert.deepEqual(h.resolved, ['2'], 'resolved once, up to the last record taken');
  assert.equal(h.state.commits.length, 1);
});

test('a stuck client call ends the service: no retry, no commit, the error handed to onFatal', async () => {
  const stuck = new ClientStuckError('send_offsets_to_transaction', 30000);
  const h = harness({ commitFailures: [stuck] });
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  assert.deepEqual(h.state.fatal, [stuck]);
  assert.equal(h.state.commits.length, 0);
  assert.equal(h.state.fences, 1, 'no new producer claimed for a retry');
  assert.equal(h.state.failures.length, 0);
  assert.equal(await counter(h.registry, 'processor_transaction_retries_total'), 0);
});

test('a take-over whose client call is stuck ends the service; an ordinary failure is retried by the next batch', async () => {
  const stuck = harness({ fenceFailures: [new ClientStuckError('connect (init_transactions)', 30000)] });
  assert.equal(await stuck.worker.takeOver(), false);
  assert.equal(stuck.state.fatal.length, 1);
  const transient = harness({ fenceFailures: [new Error('coordinator not available')] });
  assert.equal(await transient.worker.takeOver(), false);
  assert.deepEqual(transient.state.fatal, []);
  await transient.consume(transient.batch([0, 1, 2]), transient.ctx);
  assert.equal(transient.state.fences, 2);
  assert.equal(transient.state.commits.length, 1);
});

test('a closed worker takes nothing and stays closed: a late rebalance, take-over or batch does not bring it back', async () => {
  const h = harness({ committed: 0 });
  assert.equal(await h.worker.takeOver(), true);
  await h.worker.close();
  assert.equal(h.worker.state, 'closed');
  h.worker.reset('rebalance');
  assert.equal(h.worker.state, 'closed');
  assert.equal(await h.worker.takeOver(), false);
  await h.consume(h.batch([0, 1, 2]), h.ctx);
  h.worker.tick(Date.now() + 61000);
  assert.equal(h.worker.state, 'closed');
  assert.deepEqual(h.resolved, []);
  assert.equal(h.state.fences, 1, 'no producer claimed after the close');
  assert.equal(h.state.commits.length, 0);
});

test("the partitions' open batches together stay within the buffer bound: past it, the largest becomes a file early, whoever's it is", async () => {
  const workers: PartitionWorker[] = [];
  const recordBytes = (offset: number) => Buffer.from(encodeChangeEvent(sampleEvent('insert', offset))).length + `k${offset}`.length;
  // room for two records and a half: the third one held takes the instance over
  const budget = new BatchBudget(Math.floor(2.5 * recordBytes(0)), () => workers);
  const a = harness({ maxRows: 100, budget });
  const b = harness({ maxRows: 100, budget });
  workers.push(a.worker, b.worker);

  await a.consume(a.batch([0, 1]), a.ctx);
  assert.equal(a.state.written.length, 0, 'two records: within the bound');
  assert.equal(budget.heldBytes, recordBytes(0) + recordBytes(1));
  // b's first record takes the instance over: a's batch is the largest, it becomes a file while b goes on
  await b.consume(b.batch([0]), b.ctx);
  await a.worker.flushed();
  assert.deepEqual(a.state.commits.map((c) => c.nextOffset), [2]);
  assert.equal(b.state.written.length, 0);
  assert.equal(budget.heldBytes, recordBytes(0), "only b's record is held now");
  // b's own batch grows past the bound: it is the largest, so b closes its own
  await b.consume(b.batch([1, 2, 3]), b.ctx);
  assert.deepEqual(b.state.commits.map((c) => c.nextOffset), [3]);
  assert.equal(budget.heldBytes, recordBytes(3), 'the record after the early close opens the next batch');
  assert.equal(await counter(a.registry, 'processor_batches_closed_total'), 1);
  assert.deepEqual((await a.registry.getSingleMetric('processor_batches_closed_total')!.get()).values.map((v) => v.labels.reason), ['memory']);
  // a batch that is dropped (a rebalance) leaves the budget too
  await a.consume(a.batch([2]), a.ctx);
  assert.equal(budget.heldBytes, recordBytes(3) + recordBytes(2));
  a.worker.reset('rebalance');
  assert.equal(budget.heldBytes, recordBytes(3));
});
