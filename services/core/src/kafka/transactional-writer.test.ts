import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientStuckError, FencedError, ServiceError } from '../errors/errors.js';
import { createLogger } from '../logging/logger.js';
import type { Consumer, Kafka } from './client.js';
import { KafkaErrorCodes } from './errors.js';
import { retryTransaction, TransactionalWriter } from './transactional-writer.js';

const logger = createLogger({ service: 'test', level: 'silent' });
const messages = [{ topic: 'files', message: { key: 'k', value: 'v' } }];
const never = () => new Promise<never>(() => undefined);

type Call = 'connect' | 'begin' | 'send' | 'sendOffsets' | 'commit' | 'abort' | 'disconnect';

/**
 * A client whose producers record every call; `behaviour` says how a call goes (default: succeeds). `landed`
 * counts the transactions the "broker" committed, whatever the client saw.
 */
function fakeKafka(behaviour: Partial<Record<Call, (n: number) => Promise<void>>> = {}) {
  const calls: Call[] = [];
  const counts = new Map<Call, number>();
  let landed = 0;
  let producers = 0;
  const produced: unknown[][] = [];
  const run = async (call: Call) => {
    calls.push(call);
    const n = (counts.get(call) ?? 0) + 1;
    counts.set(call, n);
    await behaviour[call]?.(n);
  };
  const kafka = {
    producer: () => {
      producers++;
      let active = false;
      // the records of a transaction are delivered once its 'send' behaviour ends, each to its own delivery target
      let sending: Promise<void> | null = null;
      const native = {
        produce: (...args: unknown[]) => {
          produced.push(args.slice(0, 5).concat([args[6]]));
          sending ??= run('send');
          const delivery = args[5] as { resolve(): void; reject(error: unknown): void };
          sending.then(
            () => delivery.resolve(),
            (error: unknown) => delivery.reject(error),
          );
          return true;
        },
      };
      return {
        _getInternalClient: () => native,
        connect: () => run('connect'),
        transaction: async () => {
          await run('begin');
          sending = null;
          active = true;
        },
        sendOffsets: () => run('sendOffsets'),
        commit: async () => {
          active = false;
          landed++;
          try {
            await run('commit');
          } catch (error) {
            if (!(error instanceof Error && /landed/.test(error.message))) landed--;
            throw error;
          }
        },
        abort: async () => {
          active = false;
          await run('abort');
        },
        isActive: () => active,
        disconnect: () => run('disconnect'),
      };
    },
  } as unknown as Kafka;
  return { kafka, calls, produced, landed: () => landed, producers: () => producers };
}

const writerOver = (kafka: Kafka, afterSend?: () => void) => new TransactionalWriter(kafka, { transactionalId: 'g-t-0', transactionTimeoutMs: 1000, callDeadlineMs: 50, afterSend }, logger);
const offsets = { consumer: {} as Consumer, topic: 't', partition: 0, offset: 3 };

test('a transaction claims the id once, then begin, send, offsets, commit; the producer is kept for the next one', async () => {
  const fake = fakeKafka();
  const writer = writerOver(fake.kafka);
  await writer.write({ messages, offsets });
  await writer.write({ messages: [] });
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'sendOffsets', 'commit', 'begin', 'commit'], 'no send for no messages, no offsets unless given');
  assert.equal(fake.landed(), 2);
});

test('records go to librdkafka in order as they are: value bytes, key, any partition, headers one per value; all delivered before the commit', async () => {
  const fake = fakeKafka();
  const writer = writerOver(fake.kafka);
  await writer.write({
    messages: [
      { topic: 'files', message: { key: 'k1', value: '{"a":1}', headers: { event_id: 'e1', op: 'insert', many: ['x', 'y'] } } },
      { topic: 'dlq', message: { key: null, value: Buffer.from('b'), partition: 2, timestamp: '5' } },
      { topic: 'files', message: { key: 'k2', value: null } },
    ],
  });
  assert.deepEqual(fake.produced, [
    ['files', -1, Buffer.from('{"a":1}'), 'k1', 0, [{ event_id: 'e1' }, { op: 'insert' }, { many: 'x' }, { many: 'y' }]],
    ['dlq', 2, Buffer.from('b'), null, 5, null],
    ['files', -1, null, 'k2', 0, null],
  ]);
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'commit']);
});

test('a record librdkafka refuses before queueing (too large) fails the send: the transaction is aborted', async () => {
  const fake = fakeKafka();
  const tooLarge = Object.assign(new Error('Broker: Message size too large'), { code: KafkaErrorCodes.ERR_MSG_SIZE_TOO_LARGE });
  const kafka = {
    producer: () => {
      const producer = (fake.kafka.producer as () => Record<string, unknown>)();
      return { ...producer, _getInternalClient: () => ({ produce: () => { throw tooLarge; } }) };
    },
  } as unknown as Kafka;
  await assert.rejects(writerOver(kafka).write({ messages }), (error: unknown) => error === tooLarge);
  assert.deepEqual(fake.calls, ['connect', 'begin', 'abort', 'disconnect']);
});

test('a failed send aborts the transaction and drops the producer; the next transaction claims the id anew', async () => {
  const fake = fakeKafka({
    send: async (n) => {
      if (n === 1) throw new Error('broker not available');
    },
  });
  const writer = writerOver(fake.kafka);
  await assert.rejects(writer.write({ messages }), /broker not available/);
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'abort', 'disconnect']);
  await writer.write({ messages });
  assert.equal(fake.producers(), 2, 'a new producer');
  assert.equal(fake.landed(), 1);
});

test('a client call that outlives its deadline fails with ClientStuckError naming it, without abort or disconnect', async () => {
  const fake = fakeKafka({ sendOffsets: never });
  const writer = writerOver(fake.kafka);
  await assert.rejects(writer.write({ messages, offsets }), (error: unknown) => error instanceof ClientStuckError && /send_offsets_to_transaction/.test(error.message));
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'sendOffsets'], 'nothing queued behind the stuck call');
});

test('a fenced failure is a FencedError, not retriable, the client error its cause', async () => {
  const refused = Object.assign(new Error('producer fenced'), { code: KafkaErrorCodes.ERR_PRODUCER_FENCED });
  const fake = fakeKafka({
    commit: async () => {
      throw refused;
    },
  });
  const writer = writerOver(fake.kafka);
  const error = await writer.write({ messages }).catch((e: unknown) => e);
  assert.ok(error instanceof FencedError && error.cause === refused && !error.retriable);
  assert.deepEqual(fake.calls.slice(-1), ['disconnect']);
});

test('the test hook runs after the send, before the commit', async () => {
  const fake = fakeKafka();
  const writer = writerOver(fake.kafka, () => void fake.calls.push('hook' as Call));
  await writer.write({ messages });
  assert.deepEqual(fake.calls, ['connect', 'begin', 'send', 'hook', 'commit']);
});

test('a closed writer refuses to write, and a transaction in flight when it closes fails', async () => {
  let release!: () => void;
  const fake = fakeKafka({ send: () => new Promise<void>((resolve) => (release = resolve)) });
  const writer = new TransactionalWriter(fake.kafka, { transactionalId: 't', transactionTimeoutMs: 1000 }, logger);
  const inFlight = writer.write({ messages });
  await new Promise((resolve) => setImmediate(resolve));
  await writer.close();
  release();
  await assert.rejects(inFlight, (error: unknown) => error instanceof ServiceError && error.reason === 'transaction-state' && !error.retriable);
  await assert.rejects(writer.write({ messages }), /cannot claim while closed/);
  assert.equal(fake.landed(), 0);
});

test('a reset while a commit is in flight has the last word: the next transaction claims the id anew', async () => {
  let release!: () => void;
  const fake = fakeKafka({ commit: (n) => (n === 1 ? new Promise<void>((resolve) => (release = resolve)) : Promise.resolve()) });
  const writer = writerOver(fake.kafka);
  const inFlight = writer.write({ messages });
  while (!fake.calls.includes('commit')) await new Promise((resolve) => setImmediate(resolve));
  await writer.reset();
  release();
  await inFlight;
  await writer.write({ messages });
  assert.equal(fake.producers(), 2);
  assert.equal(fake.landed(), 2);
});

const quick = { baseDelayMs: 1, logger };

/** A writer whose first commit times out, after the broker committed it (`landed`) or not. */
function firstCommitTimesOut(landed: boolean) {
  const fake = fakeKafka({
    commit: async (n) => {
      if (n === 1) throw new Error(`commit timed out${landed ? ' (landed)' : ''}`);
    },
  });
  const sends = () => fake.calls.filter((c) => c === 'send').length;
  return { ...fake, sends, writer: writerOver(fake.kafka) };
}

test('retried: a commit that timed out but had landed is not sent again', async () => {
  const fake = firstCommitTimesOut(true);
  let checks = 0;
  await fake.writer.writeUntilCommitted({ messages }, { ...quick, landed: async () => (checks++, fake.landed() === 1) });
  assert.equal(checks, 1);
  assert.equal(fake.landed(), 1, 'committed once');
  assert.equal(fake.sends(), 1, 'sent once');
  assert.equal(fake.producers(), 2, 'the check came after a new claim, which ends the failed transaction for sure');
});

test('retried: a commit that timed out and had not landed is sent again, once', async () => {
  const fake = firstCommitTimesOut(false);
  await fake.writer.writeUntilCommitted({ messages }, { ...quick, landed: async () => fake.landed() === 1 });
  assert.equal(fake.landed(), 1);
  assert.equal(fake.sends(), 2);
});

test('retried: a check that fails is asked again, never taken for "not landed"', async () => {
  const fake = firstCommitTimesOut(true);
  let checks = 0;
  await fake.writer.writeUntilCommitted(
    { messages },
    {
      ...quick,
      landed: async () => {
        if (++checks < 3) throw new Error('checkpoint topic not readable');
        return fake.landed() === 1;
      },
    },
  );
  assert.equal(checks, 3);
  assert.equal(fake.sends(), 1, 'never re-sent while unknown');
});

test('retried: a fenced writer is retried only where the caller says so; a stuck client never', async () => {
  const fenced = Object.assign(new Error('fenced'), { code: KafkaErrorCodes.ERR_PRODUCER_FENCED });
  let writes = 0;
  const attempts = (error: unknown) => ({
    claim: async () => undefined,
    write: async () => {
      if (++writes === 1) throw error;
    },
  });
  const notFenced = (error: unknown) => !(error instanceof ServiceError && !error.retriable);
  await assert.rejects(retryTransaction(attempts(new FencedError(fenced)), { ...quick, isTransient: notFenced }), FencedError);
  writes = 0;
  await retryTransaction(attempts(new FencedError(fenced)), quick);
  assert.equal(writes, 2, 'retried by default');
  writes = 0;
  await assert.rejects(retryTransaction(attempts(new ClientStuckError('commit_transaction', 50)), quick), ClientStuckError);
  assert.equal(writes, 1);
});

test('retried: a failure reads as `explain` says, in the log and when thrown', async () => {
  const fake = fakeKafka({
    send: async () => {
      throw new Error('MSG_SIZE_TOO_LARGE');
    },
  });
  const writer = writerOver(fake.kafka);
  const seen: unknown[] = [];
  await assert.rejects(
    writer.writeUntilCommitted(
      { messages },
      { ...quick, explain: (error) => new Error(`explained: ${(error as Error).message}`), onRetry: ({ error }) => void seen.push(error), isWanted: () => seen.length < 2 },
    ),
    /explained: MSG_SIZE_TOO_LARGE/,
  );
  assert.match(String(seen[0]), /explained/);
});
