import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeChangeEvent, encodeChangeEvent, OPERATIONS } from '@cdc/core';
import { decodeEnvelope } from './decode.js';
import { sampleEvent } from '../test-support/events.js';

/** What the schema's decoding returns or throws, for comparison. */
const outcome = (decode: (b: Buffer) => unknown, bytes: Buffer) => {
  try {
    return { event: decode(bytes) };
  } catch (error) {
    return { error: (error as Error).message, reason: (error as { reason?: string }).reason };
  }
};

const insert = sampleEvent('insert', 1) as unknown as Record<string, unknown>;
const update = sampleEvent('update', 2) as unknown as Record<string, unknown>;
const variants: Record<string, unknown>[] = [
  ...OPERATIONS.filter((op) => op !== 'snapshot_complete').map((op) => sampleEvent(op, 3) as unknown as Record<string, unknown>),
  { ...insert, extra: 'dropped', source: { instance: 'cdc-0', snapshot: false, extra: 1 } },
  { ...update, update_description: { truncated_arrays: [{ new_size: 2, field: 'a', x: 1 }], removed_fields: [], updated_fields: '{}', x: 2 } },
  { ...insert, document_before: undefined },
  { ...insert, document_before: 7 },
  { ...insert, schema_version: 2 },
  { ...insert, event_id: 'ABC' },
  { ...insert, op: 'truncate' },
  { ...insert, db: '' },
  { ...insert, document: 3 },
  { ...insert, cluster_time: { t: -1, i: 0 } },
  { ...insert, cluster_time: { t: 2 ** 32, i: 0 } },
  { ...insert, cluster_time: { t: 1.5, i: 0 } },
  { ...insert, wall_time: '2025-13-01T00:00:00Z' },
  { ...insert, wall_time: '2025-11-26T10:11:12.345+01:00' },
  { ...insert, wall_time: 'yesterday' },
  { ...insert, resume_token: 5 },
  { ...insert, source: { instance: '', snapshot: false } },
  { ...insert, source: [] },
  { ...update, update_description: { updated_fields: '{}', removed_fields: [1], truncated_arrays: [] } },
  { ...update, update_description: { updated_fields: '{}', removed_fields: [], truncated_arrays: [{ field: 'a', new_size: -1 }] } },
  { ...update, update_description: { updated_fields: '{}', removed_fields: [] } },
];

test('the fast decoding returns and refuses exactly what the envelope schema does, with the same error', () => {
  const inputs = [
    ...variants.map((v) => Buffer.from(JSON.stringify(v))),
    Buffer.from(encodeChangeEvent(sampleEvent('update', 4))),
    Buffer.from('[1]'),
    Buffer.from('null'),
    Buffer.from('{not json'),
    Buffer.from([0xff, 0x7b]),
  ];
  for (const bytes of inputs) {
    const expected = outcome(decodeChangeEvent, bytes);
    const actual = outcome(decodeEnvelope, bytes);
    assert.deepEqual(actual, expected, String(bytes));
    // the same key order too: the update description is written to the file as JSON text
    if ('event' in expected) assert.equal(JSON.stringify(actual.event), JSON.stringify(expected.event));
  }
});
