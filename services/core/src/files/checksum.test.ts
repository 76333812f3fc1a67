import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, crc32cBase64, fileChecksums } from './checksum.js';

function bytewiseCrc32c(bytes: Uint8Array): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

test('crc32c matches the standard check value and a bitwise reference', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(0)), 0);
  for (const size of [1, 7, 8, 9, 63, 1000, 4097]) {
    const data = randomBytes(size);
    assert.equal(crc32c(data), bytewiseCrc32c(data), `size ${size}`);
    const cut = Math.floor(size / 3);
    assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), crc32c(data), 'incremental');
  }
  // Cloud Storage's documented example: crc32c of "hello world" is yZRlqg== (0xc99465aa)
  assert.equal(crc32cBase64(crc32c(Buffer.from('hello world'))), 'yZRlqg==');
});

test('file checksums are those of the whole content', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'checksum-'));
  try {
    const data = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'f');
    writeFileSync(path, data);
    const sums = await fileChecksums(path);
    assert.equal(sums.bytes, data.length);
    assert.equal(sums.md5, createHash('md5').update(data).digest('base64'));
    assert.equal(sums.crc32c, crc32cBase64(bytewiseCrc32c(data)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
