import type { ChangeStreamDocument, Document, Timestamp } from 'mongodb';
import {
  ENVELOPE_SCHEMA_VERSION,
  documentIdOf,
  eventIdFromResumeToken,
  encodeSnapshotComplete,
  snapshotCompleteDocumentId,
  snapshotCompleteEventId,
  snapshotEventId,
  toCanonicalJson,
  toQuotedCanonicalJson,
  type ChangeEvent,
  type ClusterTime,
} from '@cdc/core';

/** Change types that end a stream; they carry no document change and are handled by the runner. */
export const STREAM_END_TYPES = new Set(['drop', 'rename', 'dropDatabase', 'invalidate']);

export function clusterTimeOf(ts: Timestamp): ClusterTime {
  return { t: ts.high >>> 0, i: ts.low >>> 0 };
}

/** The first cluster time after `time`: a start there is exclusive of `time` (startAtOperationTime is inclusive). */
export function clusterTimeAfter(time: ClusterTime): ClusterTime {
  return time.i < 0xffffffff ? { t: time.t, i: time.i + 1 } : { t: time.t + 1, i: 0 };
}

export function resumeTokenData(token: unknown): string {
  const data = (token as { _data?: unknown } | null)?._data;
  if (typeof data === 'string') return data;
  // Older servers used BinData tokens: keep them stable as canonical JSON.
  return toCanonicalJson(token);
}

export interface Origin {
  instance: string;
}

/** Map one change-stream event (insert, update, replace, delete) to the shared envelope. */
export function changeToEnvelope(change: ChangeStreamDocument<Document>, origin: Origin): ChangeEvent {
  return envelopeWith(change, origin, toCanonicalJson);
}

/** The fields of an envelope besides its documents (what a dead letter of it says). */
export type EnvelopeHead = Omit<ChangeEvent, 'document' | 'document_before' | 'update_description'>;

/**
 * A change's envelope as the record's JSON text, byte for byte `encodeChangeEvent(changeToEnvelope(change))`, with
 * each document's canonical JSON written already quoted (toQuotedCanonicalJson): JSON.stringify of the envelope would
 * escape the documents' text a second time, the largest part of the record.
 */
export function changeToRecord(change: ChangeStreamDocument<Document>, origin: Origin): { event: EnvelopeHead; value: string } {
  const event = envelopeWith(change, origin, toQuotedCanonicalJson);
  const update = event.update_description;
  // the fields in changeToEnvelope's order, as JSON.stringify writes them
  const value =
    `{"schema_version":${event.schema_version},"event_id":${JSON.stringify(event.event_id)},"op":${JSON.stringify(event.op)},` +
    `"db":${JSON.stringify(event.db)},"coll":${JSON.stringify(event.coll)},"document_id":${JSON.stringify(event.document_id)},` +
    `"document":${event.document ?? 'null'}${event.document_before === undefined ? '' : `,"document_before":${event.document_before ?? 'null'}`},` +
    `"update_description":${update ? `{"updated_fields":${update.updated_fields},"removed_fields":${JSON.stringify(update.removed_fields)},"truncated_arrays":${JSON.stringify(update.truncated_arrays)}}` : 'null'},` +
    `"cluster_time":${JSON.stringify(event.cluster_time)},"wall_time":${JSON.stringify(event.wall_time)},"resume_token":${JSON.stringify(event.resume_token)},"source":${JSON.stringify(event.source)}}`;
  return { event, value };
}

/** The envelope with its documents written by `documentJson` (canonical JSON, or canonical JSON quoted). */
function envelopeWith(change: ChangeStreamDocument<Document>, origin: Origin, documentJson: (value: unknown) => string): ChangeEvent {
  if (change.operationType !== 'insert' && change.operationType !== 'update' && change.operationType !== 'replace' && change.operationType !== 'delete') {
    throw new Error(`not a document change: ${change.operationType}`);
  }
  const token = resumeTokenData(change._id);
  const ns = change.ns;
  const fullDocument = 'fullDocument' in change ? change.fullDocument : undefined;
  const before = 'fullDocumentBeforeChange' in change ? change.fullDocumentBeforeChange : undefined;
  const description = change.operationType === 'update' ? change.updateDescription : undefined;
  const wall = (change as { wallTime?: Date }).wallTime;
  return {
    schema_version: ENVELOPE_SCHEMA_VERSION,
    event_id: eventIdFromResumeToken(token),
    op: change.operationType,
    db: ns.db,
    coll: 'coll' in ns && ns.coll ? ns.coll : '',
    document_id: documentIdOf(change.documentKey),
    document: fullDocument ? documentJson(fullDocument) : null,
    ...(before ? { document_before: documentJson(before) } : {}),
    update_description: description
      ? {
          updated_fields: documentJson(description.updatedFields ?? {}),
          removed_fields: description.removedFields ?? [],
          truncated_arrays: (description.truncatedArrays ?? []).map((t) => ({ field: t.field, new_size: t.newSize })),
        }
      : null,
    cluster_time: clusterTimeOf(change.clusterTime as Timestamp),
    wall_time: wall instanceof Date ? wall.toISOString() : null,
    resume_token: token,
    source: { instance: origin.instance, snapshot: false },
  };
}

/** A document read by the initial snapshot, stamped with the snapshot's start time. */
export function snapshotToEnvelope(db: string, coll: string, document: Document, snapshotAt: ClusterTime, origin: Origin): ChangeEvent {
  const documentId = documentIdOf({ _id: document._id });
  return {
    schema_version: ENVELOPE_SCHEMA_VERSION,
    event_id: snapshotEventId(db, coll, documentId, snapshotAt),
    op: 'snapshot',
    db,
    coll,
    document_id: documentId,
    document: toCanonicalJson(document),
    update_description: null,
    cluster_time: snapshotAt,
    wall_time: null,
    resume_token: null,
    source: { instance: origin.instance, snapshot: true },
  };
}

/**
 * The last event of a snapshot that replaces a lost history: it names the snapshot (instance and start time) and
 * how many snapshot events it published. Once the loader has all of them, it deletes from the current state the
 * documents older than the snapshot that it did not see (deleted while the history was lost).
 */
export function snapshotCompleteEnvelope(db: string, coll: string, snapshotAt: ClusterTime, events: number, origin: Origin): ChangeEvent {
  return {
    schema_version: ENVELOPE_SCHEMA_VERSION,
    event_id: snapshotCompleteEventId(db, coll, origin.instance, snapshotAt),
    op: 'snapshot_complete',
    db,
    coll,
    document_id: snapshotCompleteDocumentId(origin.instance),
    document: encodeSnapshotComplete({ snapshot_events: events }),
    update_description: null,
    cluster_time: snapshotAt,
    wall_time: null,
    resume_token: null,
    source: { instance: origin.instance, snapshot: true },
  };
}
