import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage validates uploads with.
const TABLE = (() => {
  const table = new Int32Array(256 * 8);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c;
  }
  // slicing-by-8 tables
  for (let n = 0; n < 256; n++) {
    let c = table[n]!;
    for (let s = 1; s < 8; s++) {
      c = table[c & 0xff]! ^ (c >>> 8);
      table[s * 256 + n] = c;
    }
  }
  return table;
})();

/** Continue a CRC-32C over more bytes (start with 0). */
export function crc32c(bytes: Uint8Array, previous = 0): number {
  let crc = ~previous;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  const t = TABLE;
  for (; i < end8; i += 8) {
    const a = (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24)) ^ crc;
    crc =
      t[7 * 256 + (a & 0xff)]! ^
      t[6 * 256 + ((a >>> 8) & 0xff)]! ^
      t[5 * 256 + ((a >>> 16) & 0xff)]! ^
      t[4 * 256 + (a >>> 24)]! ^
      t[3 * 256 + bytes[i + 4]!]! ^
      t[2 * 256 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) crc = t[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** Big-endian 4 bytes, base64: the form of Cloud Storage's `crc32c` object metadata. */
export function crc32cBase64(value: number): string {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value >>> 0);
  return buffer.toString('base64');
}

export interface FileChecksums {
  /** MD5 of the content, base64 (Cloud Storage `md5Hash`) */
  md5: string;
  /** CRC-32C of the content, big-endian base64 (Cloud Storage `crc32c`) */
  crc32c: string;
  bytes: number;
}

export async function fileChecksums(path: string): Promise<FileChecksums> {
  const md5 = createHash('md5');
  let crc = 0;
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const buffer = chunk as Buffer;
    md5.update(buffer);
    crc = crc32c(buffer, crc);
    bytes += buffer.length;
  }
  return { md5: md5.digest('base64'), crc32c: crc32cBase64(crc), bytes };
}
