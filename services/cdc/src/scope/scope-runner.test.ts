import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createLogger, type OutgoingMessage } from '@cdc/core';
import { createCdcMetrics } from '../metrics.js';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from '../checkpoint/checkpoint.js';
import { BatchCommitter, streamCheckpoint, type CheckpointLog } from '../phases/committer.js';
import { CaptureScope } from './capture-scope.js';
import { scopeConfig } from './fixtures/scope-config.js';
import { ScopeCollections } from './scope-collections.js';
import { ScopeCommits } from './scope-commits.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const scope = new CaptureScope(scopeConfig());

function setup(failOn?: number) {
  const committed: Checkpoint[] = [];
  let calls = 0;
  const metrics = createCdcMetrics(new Registry());
  const checkpoints: CheckpointLog = {
    message: (checkpoint) => ({ topic: 'checkpoints', message: { key: 'database:shop', value: encodeCheckpoint(checkpoint) } }),
    load: async () => committed.at(-1) ?? null,
  };
  const publisher = {
    publish: async (messages: OutgoingMessage[]) => {
      if (++calls === failOn) throw new Error('broker gone');
      // slow enough that the next batch is handed over while this one is in flight
      await new Promise((resolve) => setTimeout(resolve, 5));
      committed.push(decodeCheckpoint(messages.at(-1)!.message.value as Buffer));
    },
  };
  const collections = new ScopeCollections(scope, { snapshotMode: 'initial', onStreamEnd: 'stop', droppedRows: 'delete', topicTemplate: '{coll}-cdc', instance: 'cdc-0', maxMessageBytes: 1_000_000 }, async () => undefined, metrics, logger);
  const commits = new ScopeCommits(new BatchCommitter('database:shop', publisher, checkpoints, metrics, new AbortController().signal), collections);
  return { committed, collections, commits };
}

const batch = (token: string) => ({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: streamCheckpoint(token, null) });
const chunk = (lastId: string) => ({ messages: [], ops: new Map(), lastClusterTime: null, checkpoint: { version: 1 as const, phase: 'snapshot' as const, snapshot_at: { t: 5, i: 1 }, last_id: lastId, events: 1, updated_at: '' } });

test("one transaction at a time, in order; each checkpoint holds the stream's last position and every collection's state", async () => {
  const { committed, collections, commits } = setup();
  await collections.found(['shop.a']);
  const done = [commits.stream.commit(batch('T1')), commits.snapshotOf('shop.a').commit(chunk('1')), commits.stream.commit(batch('T2')), commits.snapshotOf('shop.a').commit(chunk('2'))];
  await Promise.all(done);
  assert.deepEqual(
    committed.map((c) => (c.phase === 'stream' ? [c.resume_token, c.collections?.['shop.a']] : null)),
    [
      ['T1', { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0 }],
      ['T1', { phase: 'snapshot', snapshot_at: { t: 5, i: 1 }, last_id: '1', events: 1 }],
      ['T2', { phase: 'snapshot', snapshot_at: { t: 5, i: 1 }, last_id: '1', events: 1 }],
      ['T2', { phase: 'snapshot', snapshot_at: { t: 5, i: 1 }, last_id: '2', events: 1 }],
    ],
  );
  await commits.snapshotOf('shop.a').commit({ ...batch('ignored'), checkpoint: streamCheckpoint(null, { t: 5, i: 1 }) });
  const last = committed.at(-1)!;
  assert.deepEqual(last.phase === 'stream' && [last.resume_token, last.collections], ['T2', { 'shop.a': { phase: 'streaming' } }], "a snapshot's end: streaming, the stream's position untouched");
});

test('a failed transaction fails the ones handed over after it: nothing later is committed', async () => {
  const { committed, commits } = setup(1);
  const first = commits.stream.commit(batch('T1'));
  const second = commits.stream.commit(batch('T2'));
  await assert.rejects(first, /broker gone/);
  await assert.rejects(second, /broker gone/);
  assert.equal(committed.length, 0);
});

test('a re-snapshot asked for: committed as a fresh snapshot state before it is answered, its chunks then commit their progress; a restart resumes after the last chunk', async () => {
  const { committed, collections, commits } = setup();
  await collections.restore({ 'shop.a': { phase: 'streaming' }, 'shop.gone': { phase: 'stopped' } });
  commits.restore({ resume_token: 'T1', start_at: null });
  assert.equal(collections.requestResnapshot('shop.nope'), 'unknown');
  assert.equal(collections.requestResnapshot('shop.gone'), 'ended');
  assert.equal(collections.requestResnapshot('shop.a'), 'started');
  assert.equal(collections.requestResnapshot('shop.a'), 'snapshotting', 'asked twice: one snapshot');
  await commits.checkpointStates();
  const stateIn = (c: Checkpoint | undefined) => (c?.phase === 'stream' ? [c.resume_token, c.collections?.['shop.a']] : null);
  assert.deepEqual(stateIn(committed.at(-1)), ['T1', { phase: 'snapshot', snapshot_at: null, last_id: null, events: 0 }], "the request is durable, the stream's position untouched");
  const documents = () => collections.status().find((c) => c.collection === 'shop.a')?.snapshot?.documents;
  assert.equal(documents(), 0, 'the progress shown starts over');
  const chunkDone = commits.snapshotOf('shop.a').commit(chunk('1'));
  await Promise.all([chunkDone, commits.stream.commit(batch('T2'))]);
  assert.equal(documents(), 1, 'the progress shown: the committed chunk');
  assert.deepEqual(stateIn(committed.at(-1)), ['T2', { phase: 'snapshot', snapshot_at: { t: 5, i: 1 }, last_id: '1', events: 1 }]);

  // a restart (the last committed checkpoint loaded into fresh state): the snapshot is due again from its last chunk
  const restarted = setup();
  const last = committed.at(-1)!;
  await restarted.collections.restore(last.phase === 'stream' ? last.collections! : {});
  assert.deepEqual(restarted.collections.nextSnapshot(), ['shop.a', { phase: 'snapshot', snapshot_at: { t: 5, i: 1 }, last_id: '1', events: 1 }]);
});
