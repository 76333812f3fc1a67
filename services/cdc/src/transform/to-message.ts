import type { EnvelopeHead } from './to-envelope.js';
import { deadLetterTopicOf, encodeChangeEvent, ENVELOPE_SCHEMA_VERSION, fitDeadLetter, type ChangeEvent, type OutgoingMessage } from '@cdc/core';

export interface DeadLetterInfo {
  reason: 'oversize' | 'serialize_failed';
  error: string;
  db: string;
  coll: string;
  op: string | null;
  document_id: string | null;
  resume_token: string | null;
  event_id: string | null;
  size_bytes: number | null;
}

/** The dead letter of a change: what it was, never the document itself; cut to fit the producer's limit (a document id can be large). */
export function deadLetterMessage(topic: string, info: DeadLetterInfo): OutgoingMessage {
  return {
    topic: deadLetterTopicOf(topic),
    message: fitDeadLetter({
      key: info.document_id,
      fields: { ...info, failed_at: new Date().toISOString(), source_topic: topic },
      original: null,
      headers: { reason: info.reason, ...(info.event_id ? { event_id: info.event_id } : {}) },
    }),
  };
}

export type EncodedMessage = { ok: true; out: OutgoingMessage; bytes: number } | { ok: false; out: OutgoingMessage; bytes: number };

/** Envelope → Kafka record keyed by document (per-document order); too-large records become dead letters. */
export function eventToMessage(event: ChangeEvent, topic: string, maxBytes: number): EncodedMessage {
  return recordToMessage(event, encodeChangeEvent(event), topic, maxBytes);
}

/** The same, of an envelope already written as its JSON text (changeToRecord). */
export function recordToMessage(event: EnvelopeHead, text: string, topic: string, maxBytes: number): EncodedMessage {
  // Bytes at once: the batch holds its records off the JS heap until committed (strings would be copied by every
  // young-generation collection meanwhile), and the client would make bytes of a string anyway.
  const value = Buffer.from(text);
  const size = value.length;
  if (size > maxBytes) {
    const out = deadLetterMessage(topic, {
      reason: 'oversize',
      error: `event of ${size} bytes exceeds CDC_MAX_MESSAGE_BYTES=${maxBytes}`,
      db: event.db,
      coll: event.coll,
      op: event.op,
      document_id: event.document_id,
      resume_token: event.resume_token,
      event_id: event.event_id,
      size_bytes: size,
    });
    return { ok: false, out, bytes: 1024 };
  }
  return {
    ok: true,
    bytes: size + event.document_id.length,
    out: {
      topic,
      message: {
        key: event.document_id,
        value,
        headers: { event_id: event.event_id, op: event.op, schema_version: String(ENVELOPE_SCHEMA_VERSION) },
      },
    },
  };
}
