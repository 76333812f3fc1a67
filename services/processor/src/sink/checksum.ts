// CRC-32C and MD5 of files live in @cdc/core (the loader verifies uploads with them); re-exported here.
export { crc32c, crc32cBase64, fileChecksums, type FileChecksums } from '@cdc/core';
