import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeApiError } from './storage-write.js';

describe('write API errors', () => {
  const cases: { code: number; fault: string; reason: string }[] = [
    { code: 8, fault: 'transient', reason: 'quotaExceeded' }, // RESOURCE_EXHAUSTED: throughput or connection quota
    { code: 14, fault: 'transient', reason: 'backendError' }, // UNAVAILABLE
    { code: 4, fault: 'transient', reason: 'timeout' }, // DEADLINE_EXCEEDED
    { code: 9, fault: 'transient', reason: 'streamFinalized' }, // FAILED_PRECONDITION: a finalized or committed stream, spent: a fresh attempt
    { code: 6, fault: 'transient', reason: 'streamOffsetAlreadyExists' },
    { code: 11, fault: 'transient', reason: 'streamOffsetOutOfRange' },
    { code: 7, fault: 'downstream', reason: 'accessDenied' }, // PERMISSION_DENIED lasts until an operator acts
    { code: 5, fault: 'downstream', reason: 'notFound' },
    { code: 3, fault: 'rejected', reason: 'invalid' }, // INVALID_ARGUMENT: the same request cannot succeed
  ];
  for (const { code, fault, reason } of cases) {
    test(`gRPC status ${code} is ${fault} (${reason})`, () => {
      const error = writeApiError({ code, details: 'from the server' }, 'append');
      assert.equal(error.fault, fault);
      assert.equal(error.reason, reason);
      assert.match(error.message, /^append: from the server$/);
    });
  }

  test('an error without a gRPC status (a network error) is classified as the REST ones are', () => {
    assert.equal(writeApiError(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }), 'append').fault, 'transient');
  });
});
