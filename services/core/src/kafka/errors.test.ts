import { test } from 'node:test';
import assert from 'node:assert/strict';
import confluent from '@confluentinc/kafka-javascript';
import { FencedError, isRetriable, ServiceError } from '../errors/errors.js';
import { explainAccessRefusal, isFenced, isMessageTooLarge, isRejoin, KafkaAccessError, KafkaErrorCodes, kafkaAccessProblem, kafkaErrorCodes } from './errors.js';

// The client's own error classes, as it makes them of librdkafka's errors (createKafkaJsErrorFromLibRdKafkaError).
const { KafkaJSError, KafkaJSAggregateError, KafkaJSCreateTopicError } = confluent.KafkaJS;
const clientError = (message: string, code: number, retriable = false) => new KafkaJSError(message, { code, retriable });

test('fencing is told by the error code, wherever the client puts it (cause, aggregate), or by our FencedError', () => {
  assert.ok(isFenced(clientError('Local: This instance has been fenced by a newer instance', KafkaErrorCodes.ERR__FENCED)));
  assert.ok(isFenced(clientError('Broker: Producer attempted an operation with an old epoch', KafkaErrorCodes.ERR_INVALID_PRODUCER_EPOCH)));
  assert.ok(isFenced(new Error('commit failed', { cause: clientError('Broker: Specified group generation id is not valid', KafkaErrorCodes.ERR_ILLEGAL_GENERATION) })));
  assert.ok(isFenced(new FencedError(new Error('gone'))));
  assert.ok(!isFenced(clientError('Local: Broker transport failure', KafkaErrorCodes.ERR__TRANSPORT, true)));
  assert.ok(!isFenced(new Error('Producer fenced (the words alone decide nothing)')));
});

test('a rebalance is told by the coordinator\'s codes', () => {
  assert.ok(isRejoin(clientError('Broker: Group rebalance in progress', KafkaErrorCodes.ERR_REBALANCE_IN_PROGRESS, true)));
  assert.ok(isRejoin(clientError('Broker: Unknown member', KafkaErrorCodes.ERR_UNKNOWN_MEMBER_ID)));
  assert.ok(!isRejoin(clientError('Broker: Topic authorization failed', KafkaErrorCodes.ERR_TOPIC_AUTHORIZATION_FAILED)));
  assert.deepEqual(kafkaErrorCodes(new KafkaJSAggregateError('two', [clientError('a', 1), new Error('b', { cause: clientError('c', 2) })])), [1, 2]);
});

test('an access refusal becomes a KafkaAccessError naming what to check; anything else is left as it is', () => {
  const perTopic = new KafkaJSAggregateError('Topic creation errors', [
    new KafkaJSCreateTopicError('Topic already exists', 'a', { code: KafkaErrorCodes.ERR_TOPIC_ALREADY_EXISTS }),
    new KafkaJSCreateTopicError('Broker: Topic authorization failed', 'b', { code: KafkaErrorCodes.ERR_TOPIC_AUTHORIZATION_FAILED }),
  ]);
  assert.match(kafkaAccessProblem(perTopic)!, /no ACL/);
  const explained = explainAccessRefusal(perTopic, 'b: Broker: Topic authorization failed');
  assert.ok(explained instanceof KafkaAccessError && explained instanceof ServiceError);
  assert.equal(explained.reason, 'kafka-access-refused');
  assert.equal(explained.retriable, false);
  assert.equal(explained.cause, perTopic);
  assert.match(explained.message, /no ACL.*\(b: Broker: Topic authorization failed\)/);
  const transport = clientError('Local: Broker transport failure', KafkaErrorCodes.ERR__TRANSPORT, true);
  assert.equal(explainAccessRefusal(transport), transport);
});

test('the client\'s own word on retrying is what retry() goes by', () => {
  assert.ok(isRetriable(clientError('Local: Broker transport failure', KafkaErrorCodes.ERR__TRANSPORT, true)));
  assert.ok(!isRetriable(clientError('Broker: Transactional Id authorization failed', KafkaErrorCodes.ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED)));
  assert.ok(!isRetriable(new Error('unclassified')));
  assert.ok(!isRetriable(null));
});

test('a record refused for its size: by its code, through causes; by the delivery failure\'s text only when no code came with it', () => {
  assert.ok(isMessageTooLarge(clientError('Broker: Message size too large', KafkaErrorCodes.ERR_MSG_SIZE_TOO_LARGE)));
  assert.ok(isMessageTooLarge(new Error('commit failed', { cause: clientError('Broker: Message size too large', KafkaErrorCodes.ERR_MSG_SIZE_TOO_LARGE) })));
  assert.ok(isMessageTooLarge(new Error('Transaction aborted: Broker: Message size too large')));
  assert.ok(!isMessageTooLarge(clientError('Local: Broker transport failure', KafkaErrorCodes.ERR__TRANSPORT, true)));
});
