import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FatalError, RetriableError, ServiceError } from '../errors/errors.js';
import { ApiError } from '@google-cloud/storage';
import { classifyGcpError, gcpErrorInfo, isAlreadyExists, isMissingCredentials, isNotFound, isRetriableGcpError, isTransientGcpError } from './errors.js';

const apiError = (code: number | undefined, reason: string, message = reason) => Object.assign(new Error(message), { code, errors: [{ reason, message }] });
const faultOf = (error: unknown) => classifyGcpError(error).fault;

test('network failures, 408/429/5xx, backend reasons, quota and rate limits are transient', () => {
  assert.equal(faultOf(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9050'), { code: 'ECONNREFUSED' })), 'transient');
  assert.equal(faultOf(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNRESET' } })), 'transient');
  for (const code of [408, 429, 500, 502, 503, 504]) assert.equal(faultOf(apiError(code, 'x')), 'transient', String(code));
  assert.equal(faultOf(apiError(undefined, 'backendError')), 'transient');
  // BigQuery answers quota and rate limits with 403: the reason decides, not the status.
  assert.equal(faultOf(apiError(403, 'rateLimitExceeded')), 'transient');
  assert.equal(faultOf(apiError(403, 'quotaExceeded')), 'transient');
  // A failed job's errorResult is classified like the error of a refused request.
  assert.equal(faultOf({ reason: 'jobRateLimitExceeded', message: 'Exceeded rate limits' }), 'transient');
  assert.ok(isTransientGcpError(apiError(503, 'backendError')));
});

test('permission, billing, a refused KMS key and a missing table or dataset are downstream faults: retried, not transient', () => {
  for (const [code, reason] of [
    [403, 'accessDenied'],
    [403, 'billingNotEnabled'],
    [403, 'accessDenied'], // Cloud KMS: "the service account does not have permission to use the key"
    [404, 'notFound'],
    [401, 'authError'],
    [403, 'forbidden'],
    [403, 'someNewReason'], // an unknown 403 is still a refusal by the project, not bad data
  ] as const) {
    const error = classifyGcpError(apiError(code, reason));
    assert.equal(error.fault, 'downstream', `${code} ${reason}`);
    assert.equal(error.retriable, true);
    assert.equal(error.reason, reason);
    assert.ok(!isTransientGcpError(apiError(code, reason)));
    assert.ok(isRetriableGcpError(apiError(code, reason)));
  }
  // a job's errorResult: no status, only the reason
  assert.equal(faultOf({ reason: 'billingNotEnabled', message: 'Billing has not been enabled for this project' }), 'downstream');
});

test('invalid input and statements, duplicates are rejected: not retriable', () => {
  for (const error of [
    apiError(400, 'invalid', 'Error while reading data, error message: Invalid Input Error: No magic bytes'),
    apiError(400, 'invalidQuery', 'Could not serialize access to table p:d.t due to concurrent update'),
    apiError(409, 'duplicate'),
    { reason: 'invalid', message: 'Provided Schema does not match Table' },
  ]) {
    const classified = classifyGcpError(error);
    assert.equal(classified.fault, 'rejected', classified.message);
    assert.equal(classified.retriable, false);
  }
});

test('the wording of a message decides nothing; an error with no status, reason or code is held, never taken for bad data', () => {
  // A message that reads like a network failure, or like a missing table, without the structure of one.
  assert.equal(faultOf(apiError(400, 'invalid', 'socket hang up; Not found: Table p:d.t')), 'rejected');
  assert.equal(faultOf(apiError(400, 'invalid', 'Access Denied: Table p:d.t')), 'rejected');
  const unknown = classifyGcpError(new Error('schema mismatch'));
  assert.equal(unknown.fault, 'downstream');
  assert.equal(unknown.reason, 'unknown');
});

test('the classified error is a ServiceError: reason, retriable, the original as cause, classified once', () => {
  const original = apiError(403, 'billingNotEnabled', 'Billing has not been enabled');
  const classified = classifyGcpError(original);
  assert.ok(classified instanceof ServiceError);
  assert.equal(classified.cause, original);
  assert.equal(classified.message, 'Billing has not been enabled');
  assert.equal(classifyGcpError(classified), classified);
  assert.deepEqual(gcpErrorInfo(classified), { status: 403, reason: 'billingNotEnabled', errno: null, message: 'Billing has not been enabled' });
  assert.equal(classifyGcpError(Object.assign(new Error('x'), { code: 503 })).reason, 'http-503');
  assert.equal(classifyGcpError(Object.assign(new Error('x'), { code: 'ECONNRESET' })).reason, 'ECONNRESET');
  // the services' own errors keep their word on retrying
  assert.equal(classifyGcpError(new RetriableError('broker away', { reason: 'broker' })).fault, 'transient');
  assert.equal(classifyGcpError(new FatalError('stop', { reason: 'config' })).fault, 'rejected');
});

test('duplicates and missing resources are recognised by status or reason', () => {
  assert.ok(isAlreadyExists(apiError(409, 'duplicate')));
  assert.ok(isAlreadyExists(apiError(undefined, 'duplicate')));
  assert.ok(!isAlreadyExists(apiError(400, 'invalid')));
  assert.ok(isNotFound(apiError(404, 'notFound')));
  assert.ok(!isNotFound(apiError(400, 'invalid')));
  assert.deepEqual(gcpErrorInfo(apiError(404, 'notFound', 'Not found: Table p:d.t')), { status: 404, reason: 'notFound', errno: null, message: 'Not found: Table p:d.t' });
});

/** The error the Google clients make of an HTTP error response: an ApiError of the body's `error` (parseHttpRespBody). */
const fromResponse = (body: string) => new ApiError((JSON.parse(body) as { error: ConstructorParameters<typeof ApiError>[0] }).error);

test('errors as the Google clients make them of the JSON BigQuery and Cloud Storage answer', () => {
  const quota = fromResponse(
    '{"error":{"code":403,"message":"Quota exceeded: Your table exceeded quota for imports or query appends per table.","errors":[{"message":"Quota exceeded: Your table exceeded quota for imports or query appends per table.","domain":"usageLimits","reason":"quotaExceeded"}],"status":"PERMISSION_DENIED"}}',
  );
  assert.deepEqual([classifyGcpError(quota).fault, classifyGcpError(quota).reason, classifyGcpError(quota).status], ['transient', 'quotaExceeded', 403]);
  const kms = fromResponse(
    '{"error":{"code":403,"message":"The Cloud KMS key projects/p/locations/eu/keyRings/r/cryptoKeys/k is disabled or its service account lacks permission to use it.","errors":[{"message":"The Cloud KMS key is disabled","domain":"global","reason":"accessDenied"}],"status":"PERMISSION_DENIED"}}',
  );
  assert.equal(classifyGcpError(kms).fault, 'downstream');
  const missingTable = fromResponse('{"error":{"code":404,"message":"Not found: Table p:d.t","errors":[{"message":"Not found: Table p:d.t","domain":"global","reason":"notFound"}],"status":"NOT_FOUND"}}');
  assert.ok(isNotFound(missingTable));
  assert.equal(classifyGcpError(missingTable).fault, 'downstream');
  const exists = fromResponse('{"error":{"code":409,"message":"Already Exists: Table p:d.t","errors":[{"message":"Already Exists: Table p:d.t","domain":"global","reason":"duplicate"}],"status":"ALREADY_EXISTS"}}');
  assert.ok(isAlreadyExists(exists));
  const invalid = fromResponse(
    '{"error":{"code":400,"message":"Error while reading data, error message: Invalid Input Error: No magic bytes found at end of file","errors":[{"message":"Error while reading data","domain":"global","reason":"invalid"}],"status":"INVALID_ARGUMENT"}}',
  );
  assert.equal(classifyGcpError(invalid).fault, 'rejected');
  const backend = fromResponse('{"error":{"code":503,"message":"We encountered an internal error. Please try again.","errors":[{"message":"We encountered an internal error. Please try again.","domain":"global","reason":"backendError"}]}}');
  assert.equal(classifyGcpError(backend).fault, 'transient');
  // a load job that failed: its status.errorResult, as bigquery-load passes it on
  const job = JSON.parse('{"status":{"state":"DONE","errorResult":{"reason":"invalid","location":"gs://b/f.parquet","message":"Error while reading data, error message: Provided schema is not compatible with the file"}}}') as { status: { errorResult: object } };
  assert.equal(classifyGcpError(job.status.errorResult).fault, 'rejected');
});

test('missing credentials are told by the only thing google-auth-library gives: its message', () => {
  const error = new Error('Could not load the default credentials. Browse to https://cloud.google.com/docs/authentication/getting-started for more information.');
  assert.ok(isMissingCredentials(error));
  assert.equal(classifyGcpError(error).fault, 'downstream', 'held and retried, never taken for bad data');
  assert.ok(!isMissingCredentials(fromResponse('{"error":{"code":401,"message":"Request had invalid authentication credentials.","errors":[{"message":"Invalid Credentials","domain":"global","reason":"authError"}]}}')));
});
