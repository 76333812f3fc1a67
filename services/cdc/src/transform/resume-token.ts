import type { ClusterTime } from '@cdc/core';

/**
 * The cluster time a resume token (its `_data` hex) stands for, or null for a format not known here. MongoDB's
 * tokens are KeyStrings that begin with the event's cluster time (type byte 0x82, then t and i as two big-endian
 * 32-bit words; Debezium reads them the same way); the test stand-in's are that 64-bit value alone, in 16 hex
 * digits (18 with the 01 suffix of an invalidate). Used only to tell how old a resume point is: resuming still
 * hands the token over as it is.
 */
export function clusterTimeOfToken(data: string): ClusterTime | null {
  const hex = /^[0-9a-f]{16}(01)?$/i.test(data) ? data : /^82[0-9a-f]{16}/i.test(data) ? data.slice(2) : null;
  if (hex === null) return null;
  return { t: Number.parseInt(hex.slice(0, 8), 16), i: Number.parseInt(hex.slice(8, 16), 16) };
}
