import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PermanentFileError } from '../sink/errors.js';
import { apiError, eventOrigin, FakeWorld, records } from './fixtures/fakes.js';

/** The JSON body of the n-th dead letter sent. */
function deadLetter(world: FakeWorld, n: number): Record<string, unknown> {
  return JSON.parse(String(world.deadLetters.sent[n]!.messages[0]!.value)) as Record<string, unknown>;
}

async function quarantinedCount(world: FakeWorld, reason: string): Promise<number> {
  return (await world.metrics.quarantined.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}

test('a file at fault is moved to quarantine/ with its reason and reported on the dead-letter topic with its origin', async () => {
  const world = new FakeWorld();
  const file = world.disk.put('orders-cdc/p0/a.parquet', records(0, 5, 2));
  const outcome = await world.quarantine().onFault({ file, origin: eventOrigin(7) }, () => Promise.reject(new PermanentFileError('load_failed', 'invalid Parquet')));
  assert.equal(outcome, 'quarantined');
  assert.equal(await world.disk.locate(file.path), 'quarantine');
  assert.deepEqual({ ...world.disk.notes.get(file.path), quarantined_at: 'now' }, {
    reason: 'load_failed', error: 'invalid Parquet', file_id: file.fileId, quarantined_at: 'now', topic: 'orders-cdc', partition: 0, first_offset: 5, last_offset: 6,
  });
  assert.equal(world.deadLetters.sent[0]!.topic, 'parquet-files.dlq');
  assert.deepEqual(world.deadLetters.reasons(), ['load_failed']);
  const body = deadLetter(world, 0);
  assert.equal(body.path, file.path);
  assert.equal(body.quarantined_path, '/data/quarantine/orders-cdc/p0/a.parquet');
  assert.equal(body.source_offset, '7');
  assert.equal(await quarantinedCount(world, 'load_failed'), 1);
});

test('what is not the file\'s fault passes through: the task\'s value, or its error', async () => {
  const world = new FakeWorld();
  const entry = { file: world.disk.put('a.parquet', records(0, 0, 1)), origin: eventOrigin(1) };
  assert.equal(await world.quarantine().onFault(entry, async () => 'loaded'), 'loaded');
  await assert.rejects(world.quarantine().onFault(entry, () => Promise.reject(apiError(403, 'accessDenied'))), /accessDenied/);
  assert.equal(await world.disk.locate('a.parquet'), 'input');
  assert.deepEqual(world.deadLetters.sent, []);
});

test('a file quarantined before is reported again with the reason noted then', async () => {
  const world = new FakeWorld();
  const entry = { file: world.disk.put('a.parquet', records(0, 0, 1)), origin: eventOrigin(1) };
  await world.quarantine().quarantine(entry, new PermanentFileError('checksum_mismatch', 'md5 differs'));
  assert.equal(await world.quarantine().reportAgain(entry), 'quarantined');
  assert.deepEqual(world.deadLetters.reasons(), ['checksum_mismatch', 'checksum_mismatch']);
  assert.equal(deadLetter(world, 1).error, 'md5 differs');
});

test('a missing file leaves a note and a report although there is nothing to move', async () => {
  const world = new FakeWorld();
  const file = world.disk.put('gone.parquet', records(0, 0, 1));
  world.disk.files.delete(file.path);
  await world.quarantine().quarantine({ file, origin: eventOrigin(1) }, new PermanentFileError('missing_file', 'gone'));
  assert.equal(world.disk.notes.get(file.path)?.reason, 'missing_file');
  assert.equal(deadLetter(world, 0).quarantined_path, null);
});

test('an unreadable file-ready event is dead-lettered with no file, counted under its source topic', async () => {
  const world = new FakeWorld();
  await world.quarantine().rejectEvent('invalid file-ready event: record has no value', eventOrigin(9));
  assert.deepEqual(world.deadLetters.reasons(), ['invalid_event']);
  const body = deadLetter(world, 0);
  assert.equal(body.path, null);
  assert.equal(body.file_id, null);
  assert.equal(body.source_offset, '9');
  assert.equal((await world.metrics.quarantined.get()).values[0]?.labels.topic, 'parquet-files');
});

test('a dead letter that cannot be sent is retried, and fails the file when it never goes: never skipped silently', async () => {
  const world = new FakeWorld();
  const entry = { file: world.disk.put('a.parquet', records(0, 0, 1)), origin: eventOrigin(1) };
  world.failures.next('send', new Error('broker away'));
  await world.quarantine().quarantine(entry, new PermanentFileError('load_failed', 'invalid'));
  assert.equal(world.deadLetters.sent.length, 1, 'sent on the second attempt');
  world.failures.next('send', ...Array.from({ length: world.retry.attempts }, () => new Error('broker away')));
  await assert.rejects(world.quarantine().rejectEvent('bad event', eventOrigin(2)), /broker away/);
  assert.equal(await quarantinedCount(world, 'invalid_event'), 0, 'not counted as reported');
});
