import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseStoreLocation } from './location.js';

test('a store location is a gs:// bucket prefix (normalised to end with /) or a local directory', () => {
  assert.deepEqual(parseStoreLocation('gs://my-project-cdc/parquet'), { kind: 'object', bucket: 'my-project-cdc', prefix: 'parquet/' });
  assert.deepEqual(parseStoreLocation('gs://my-project-cdc/a/b/'), { kind: 'object', bucket: 'my-project-cdc', prefix: 'a/b/' });
  assert.deepEqual(parseStoreLocation('gs://my-project-cdc'), { kind: 'object', bucket: 'my-project-cdc', prefix: '' });
  assert.deepEqual(parseStoreLocation('./data/parquet'), { kind: 'local', dir: './data/parquet' });
  assert.deepEqual(parseStoreLocation('/data/parquet'), { kind: 'local', dir: '/data/parquet' });
});

test('bucket names follow Cloud Storage rules; other schemes, empty values and odd prefixes are refused with the reason', () => {
  assert.throws(() => parseStoreLocation('gs://Bad_Bucket/x'), /bucket "Bad_Bucket": must be lower-case/);
  assert.throws(() => parseStoreLocation('gs://goog-files/x'), /must not start with "goog"/);
  assert.throws(() => parseStoreLocation('gs:///x'), /bucket "": must be lower-case/);
  assert.throws(() => parseStoreLocation('s3://bucket/x'), /only gs:\/\/ buckets and local directories/);
  assert.throws(() => parseStoreLocation('gs://bucket-ok/a//b'), /no empty, \. or \.\. segments/);
  assert.throws(() => parseStoreLocation('gs://bucket-ok/../b'), /no empty, \. or \.\. segments/);
  assert.throws(() => parseStoreLocation('  '), /a local directory or gs:\/\/bucket\/prefix/);
});
