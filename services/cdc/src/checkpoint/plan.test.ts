import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planStart } from './plan.js';
import { decodeCheckpoint, encodeCheckpoint, resumePointOf, sameCheckpoint, type Checkpoint } from './checkpoint.js';

const at = { t: 50, i: 1 };

test('first start snapshots unless snapshots are off', () => {
  assert.deepEqual(planStart(null, 'initial'), { action: 'snapshot', resumeFrom: null });
  assert.deepEqual(planStart(null, 'when_no_offset'), { action: 'snapshot', resumeFrom: null });
  assert.deepEqual(planStart(null, 'never'), { action: 'stream', from: { kind: 'now' } });
});

test('a crashed snapshot resumes after its last _id with its original start time', () => {
  const cp: Checkpoint = { version: 1, phase: 'snapshot', snapshot_at: at, last_id: '{"$numberInt":"41"}', updated_at: 'x' };
  assert.deepEqual(planStart(cp, 'never'), { action: 'snapshot', resumeFrom: { snapshotAt: at, lastId: '{"$numberInt":"41"}', events: 0, replacesHistory: false } });
});

test('a crashed snapshot that replaces a lost history still does, with its count of events so far', () => {
  const cp: Checkpoint = { version: 1, phase: 'snapshot', snapshot_at: at, last_id: '{"$numberInt":"41"}', events: 41, replaces_history: true, updated_at: 'x' };
  assert.deepEqual(planStart(decodeCheckpoint(encodeCheckpoint(cp)), 'initial'), {
    action: 'snapshot',
    resumeFrom: { snapshotAt: at, lastId: '{"$numberInt":"41"}', events: 41, replacesHistory: true },
  });
});

test('streaming resumes after the token, or from the snapshot time', () => {
  const withToken: Checkpoint = { version: 1, phase: 'stream', resume_token: '82AB', start_at: null, updated_at: 'x' };
  assert.deepEqual(planStart(withToken, 'initial'), { action: 'stream', from: { kind: 'token', token: '82AB' } });
  assert.deepEqual(planStart({ ...withToken, start_after: true }, 'initial'), { action: 'stream', from: { kind: 'after-end', token: '82AB' } });
  const afterSnapshot: Checkpoint = { version: 1, phase: 'stream', resume_token: null, start_at: at, updated_at: 'x' };
  assert.deepEqual(planStart(afterSnapshot, 'initial'), { action: 'stream', from: { kind: 'time', at } });
});

test('checkpoints round-trip and reject garbage', () => {
  const cp: Checkpoint = { version: 1, phase: 'stream', resume_token: '82AB', start_at: null, updated_at: '2026-11-26T00:00:00Z' };
  assert.deepEqual(decodeCheckpoint(encodeCheckpoint(cp)), cp);
  assert.throws(() => decodeCheckpoint(Buffer.from('{"version":1,"phase":"other"}')));
});

test('a decoded checkpoint is recognised as the one committed, another one is not', () => {
  const cp: Checkpoint = { version: 1, phase: 'stream', resume_token: '82AB', start_at: null, updated_at: '2026-11-26T00:00:00.001Z' };
  assert.equal(sameCheckpoint(decodeCheckpoint(encodeCheckpoint(cp)), cp), true);
  assert.equal(sameCheckpoint(decodeCheckpoint(encodeCheckpoint({ ...cp, updated_at: '2026-11-26T00:00:00.002Z' })), cp), false);
  assert.equal(sameCheckpoint(null, cp), false);
});

test('the resume point of a checkpoint: snapshot start, resume token time, or stream start', () => {
  assert.deepEqual(resumePointOf({ version: 1, phase: 'snapshot', snapshot_at: at, last_id: null, updated_at: 'x' }), at);
  assert.deepEqual(resumePointOf({ version: 1, phase: 'stream', resume_token: '0000003200000001', start_at: null, updated_at: 'x' }), at);
  assert.deepEqual(resumePointOf({ version: 1, phase: 'stream', resume_token: null, start_at: at, updated_at: 'x' }), at);
  assert.equal(resumePointOf({ version: 1, phase: 'stream', resume_token: null, start_at: null, updated_at: 'x' }), null);
});
