import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gcpErrorInfo, isAlreadyExists, isNotFound, isTransientGcpError } from './errors.js';

const apiError = (code: number | undefined, reason: string, message = reason) => Object.assign(new Error(message), { code, errors: [{ reason, message }] });

test('network failures, 408/429/5xx, backend reasons and DML conflicts are transient', () => {
  assert.ok(isTransientGcpError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9050'), { code: 'ECONNREFUSED' })));
  assert.ok(isTransientGcpError(new Error('request to http://x failed, reason: socket hang up')));
  assert.ok(isTransientGcpError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } })));
  for (const code of [408, 429, 500, 502, 503, 504]) assert.ok(isTransientGcpError(apiError(code, 'x')), String(code));
  assert.ok(isTransientGcpError(apiError(undefined, 'backendError')));
  assert.ok(isTransientGcpError(apiError(403, 'rateLimitExceeded')));
  assert.ok(isTransientGcpError(apiError(400, 'invalidQuery', 'Could not serialize access to table p:d.t due to concurrent update')));
});

test('bad input, missing things and refusals are permanent', () => {
  assert.ok(!isTransientGcpError(apiError(400, 'invalid', 'Error while reading data, error message: Invalid Input Error: No magic bytes')));
  assert.ok(!isTransientGcpError(apiError(404, 'notFound')));
  assert.ok(!isTransientGcpError(apiError(403, 'accessDenied')));
  assert.ok(!isTransientGcpError(apiError(409, 'duplicate')));
  assert.ok(!isTransientGcpError(new Error('schema mismatch')));
});

test('duplicates and missing resources are recognised by status or reason', () => {
  assert.ok(isAlreadyExists(apiError(409, 'duplicate')));
  assert.ok(isAlreadyExists(apiError(undefined, 'duplicate')));
  assert.ok(!isAlreadyExists(apiError(400, 'invalid')));
  assert.ok(isNotFound(apiError(404, 'notFound')));
  assert.ok(!isNotFound(apiError(400, 'invalid')));
  assert.deepEqual(gcpErrorInfo(apiError(404, 'notFound', 'Not found: Table p:d.t')), { status: 404, reason: 'notFound', errno: null, message: 'Not found: Table p:d.t' });
});
