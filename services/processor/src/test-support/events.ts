import { BSON, documentIdOf, eventIdFromResumeToken, snapshotEventId, toCanonicalJson, type ChangeEvent, type Operation } from '@cdc/core';

const { Decimal128, Int32, Long } = BSON;

/** A valid envelope of the given operation for document `id` (unit tests). */
export function sampleEvent(op: Operation, id: number, clusterTime = { t: 1764151872, i: id }): ChangeEvent {
  const documentId = documentIdOf({ _id: new Int32(id) });
  const document = { _id: new Int32(id), status: op, total: Decimal128.fromString('19.99'), qty: Long.fromNumber(2), items: [{ sku: 'A', price: Decimal128.fromString('9.995') }] };
  return {
    schema_version: 1,
    event_id: op === 'snapshot' ? snapshotEventId('shop', 'orders', documentId, clusterTime) : eventIdFromResumeToken(`82${id}`),
    op,
    db: 'shop',
    coll: 'orders',
    document_id: documentId,
    document: op === 'delete' ? null : toCanonicalJson(document),
    document_before: op === 'update' ? toCanonicalJson({ _id: new Int32(id), status: 'before' }) : null,
    update_description: op === 'update' ? { updated_fields: toCanonicalJson({ status: 'update' }), removed_fields: ['note'], truncated_arrays: [] } : null,
    cluster_time: clusterTime,
    wall_time: op === 'snapshot' ? null : new Date(clusterTime.t * 1000 + 345).toISOString(),
    resume_token: op === 'snapshot' ? null : `82${id}`,
    source: { instance: 'cdc-0', snapshot: op === 'snapshot' },
  };
}
