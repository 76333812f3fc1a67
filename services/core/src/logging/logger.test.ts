import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from './logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      cb();
    },
  });
  return { lines, destination };
}

test('one JSON line per event with the service name', () => {
  const { lines, destination } = capture();
  const logger = createLogger({ service: 'cdc', destination });
  logger.info({ event_id: 'abc' }, 'published');
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.service, 'cdc');
  assert.equal(lines[0]!.msg, 'published');
  assert.equal(lines[0]!.level, 'info');
});

test('secrets and URI credentials are redacted', () => {
  const { lines, destination } = capture();
  const logger = createLogger({ service: 'loader', destination });
  logger.info({ password: 'p4ss', nested: { token: 't0k' }, uri: 'mongodb://admin:s3cr3t@db:27017/?authSource=admin' }, 'connecting to mongodb://admin:s3cr3t@db');
  logger.error({ err: new Error('failed mongodb://admin:s3cr3t@db:27017') }, 'boom');
  const text = JSON.stringify(lines);
  for (const secretValue of ['p4ss', 't0k', 's3cr3t']) assert.ok(!text.includes(secretValue), `${secretValue} leaked: ${text}`);
  assert.match(text, /mongodb:\/\/admin:\*\*\*@db:27017/);
});
