import { createHash } from 'node:crypto';
import type { Message } from './client.js';

/**
 * Size a dead-letter record is kept within: librdkafka's producer refuses records above its message.max.bytes
 * (1,000,000 by default, as the broker's limit is about 1 MiB), and a dead letter that cannot be sent stops the
 * service, which then meets the same record again after its restart. The margin covers the record's framing.
 */
export const DEAD_LETTER_MAX_BYTES = 900_000;
/** record keys above this are cut (a key is a document id or a partition name: large ones are themselves bad input) */
export const DEAD_LETTER_MAX_KEY_BYTES = 4096;
/** text fields (error messages) above this many characters are cut */
const MAX_TEXT_CHARS = 16_384;

export interface DeadLetterParts {
  key: Buffer | string | null;
  /** what the record says about the failure (reason, error, source, ...); long texts are cut */
  fields: Record<string, unknown>;
  /** the original bytes, carried base64 as far as they fit */
  original: Buffer | null;
  headers: Record<string, string>;
}

const cutText = (text: string) => (text.length <= MAX_TEXT_CHARS ? text : `${text.slice(0, MAX_TEXT_CHARS)}… (cut from ${text.length} characters)`);

/**
 * The dead-letter record, always within `maxBytes` (key, value and headers together): long texts and the key are
 * cut, and the original value is kept as a base64 prefix as long as the room left allows, with `value_size`,
 * `value_sha256` (of the whole value, also as headers) and `value_truncated` telling what it was.
 */
export function fitDeadLetter(parts: DeadLetterParts, maxBytes = DEAD_LETTER_MAX_BYTES): Message {
  const rawKey = parts.key === null ? null : Buffer.from(parts.key);
  const key = rawKey && rawKey.length > DEAD_LETTER_MAX_KEY_BYTES ? rawKey.subarray(0, DEAD_LETTER_MAX_KEY_BYTES) : rawKey;
  const original = parts.original;
  const whole = original === null ? null : { size: original.length, sha256: createHash('sha256').update(original).digest('hex') };
  const headers: Record<string, string> = { ...parts.headers, ...(whole ? { value_size: String(whole.size), value_sha256: whole.sha256 } : {}) };
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parts.fields)) fields[name] = typeof value === 'string' ? cutText(value) : value;
  const record = (kept: number) =>
    JSON.stringify({
      ...fields,
      value_base64: original === null ? null : original.subarray(0, kept).toString('base64'),
      value_truncated: original !== null && kept < original.length,
      value_size: whole?.size ?? null,
      value_sha256: whole?.sha256 ?? null,
    });
  const overhead = (key?.length ?? 0) + Object.entries(headers).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  // + 1: `false` is one character longer than `true`
  const fixed = Buffer.byteLength(record(0)) + overhead + 1;
  if (fixed > maxBytes) throw new Error(`dead-letter fields alone take ${fixed} bytes, more than ${maxBytes}`);
  // base64: 4 characters per 3 bytes
  const kept = Math.min(original?.length ?? 0, Math.floor((maxBytes - fixed) / 4) * 3);
  return { key, value: record(kept), headers };
}
