import { DEAD_LETTER_MAX_BYTES, DEAD_LETTER_MAX_KEY_BYTES, deadLetterTopicOf, EnvelopeError, fitDeadLetter, type ChangeEvent, type Message } from '@cdc/core';
import { decodeEnvelope } from './decode.js';
import { toRow, type ParquetRow } from './to-row.js';

export type DeadLetterReason = EnvelopeError['reason'];

export interface IncomingRecord {
  topic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  /** Kafka record timestamp (ms since the epoch, as a string) */
  timestamp: string;
}

/** A record that cannot become a row: it goes to `<topic>.dlq` in the transaction that commits past it. */
export interface DeadLetter extends IncomingRecord {
  reason: DeadLetterReason;
  error: string;
}

export type Classified = { ok: true; row: ParquetRow; event: ChangeEvent } | { ok: false; deadLetter: DeadLetter };

/** Kafka record → row, or a dead letter naming why not (never throws: a bad record must not stop the partition). */
export function classifyRecord(record: IncomingRecord): Classified {
  const deadLetter = (reason: DeadLetterReason, error: string): Classified => ({
    ok: false,
    deadLetter: { reason, error, topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: record.value, timestamp: record.timestamp },
  });
  if (record.value === null) return deadLetter('not_json', 'record has no value (tombstone)');
  let event: ChangeEvent;
  try {
    event = decodeEnvelope(record.value);
  } catch (error) {
    if (error instanceof EnvelopeError) return deadLetter(error.reason, error.message);
    return deadLetter('invalid_envelope', (error as Error).message);
  }
  try {
    return { ok: true, event, row: toRow(event, record) };
  } catch (error) {
    return deadLetter('invalid_envelope', (error as Error).message);
  }
}

/**
 * The dead-letter record: original key as key, original bytes base64 in the value (cut to fit the producer's
 * limit, with size and sha256 of the whole value), the reason also as a header.
 */
export function deadLetterMessage(deadLetter: DeadLetter, failedAt: Date, maxBytes = DEAD_LETTER_MAX_BYTES): { topic: string; message: Message } {
  return {
    topic: deadLetterTopicOf(deadLetter.topic),
    message: fitDeadLetter(
      {
        key: deadLetter.key,
        fields: {
          reason: deadLetter.reason,
          error: deadLetter.error,
          source_topic: deadLetter.topic,
          source_partition: deadLetter.partition,
          source_offset: deadLetter.offset,
          source_timestamp: deadLetter.timestamp,
          key_base64: deadLetter.key === null ? null : deadLetter.key.subarray(0, DEAD_LETTER_MAX_KEY_BYTES).toString('base64'),
          key_size: deadLetter.key?.length ?? null,
          failed_at: failedAt.toISOString(),
          stage: 'processor',
        },
        original: deadLetter.value,
        headers: { reason: deadLetter.reason, source_topic: deadLetter.topic, source_partition: String(deadLetter.partition), source_offset: String(deadLetter.offset) },
      },
      maxBytes,
    ),
  };
}
