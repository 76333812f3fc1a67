import type { ChangeStreamDocument, Document } from 'mongodb';
import { BSON, RAW_DECODE_OPTIONS, RawBsonDocument } from '@cdc/core';

/**
 * The fields of a change event holding whole documents, kept as their bytes (canonical JSON is written straight
 * from them); the nested map names the fields of a sub-document treated the same way.
 */
type RawFields = ReadonlyMap<string, true | RawFields>;
const CHANGE_RAW_FIELDS: RawFields = new Map<string, true | RawFields>([
  ['fullDocument', true],
  ['fullDocumentBeforeChange', true],
  ['updateDescription', new Map([['updatedFields', true]])],
]);

const BSON_DOCUMENT = 0x03;

/** Bytes of the value of an element of `type` starting at `at` (bson's element layout); -1 for a type not known here. */
function valueLength(bytes: Buffer, type: number, at: number): number {
  switch (type) {
    case 0x06: // undefined
    case 0x0a: // null
    case 0x7f: // max key
    case 0xff: // min key
      return 0;
    case 0x08: // boolean
      return 1;
    case 0x10: // int32
      return 4;
    case 0x01: // double
    case 0x09: // date
    case 0x11: // timestamp
    case 0x12: // int64
      return 8;
    case 0x07: // ObjectId
      return 12;
    case 0x13: // decimal128
      return 16;
    case 0x02: // string
    case 0x0d: // code
    case 0x0e: // symbol
      return 4 + bytes.readInt32LE(at);
    case 0x05: // binary: length, subtype, data
      return 5 + bytes.readInt32LE(at);
    case 0x0c: // DBPointer: string, ObjectId
      return 4 + bytes.readInt32LE(at) + 12;
    case 0x03: // document
    case 0x04: // array
    case 0x0f: // code with scope
      return bytes.readInt32LE(at);
    case 0x0b: {
      // regex: two C strings
      const patternEnd = bytes.indexOf(0, at);
      return bytes.indexOf(0, patternEnd + 1) + 1 - at;
    }
    default:
      return -1;
  }
}

/**
 * The document at `start` decoded as the driver decodes it, except the sub-documents `raw` names, which stay
 * RawBsonDocuments (bytes shared with `bytes`, not copied). The other elements are copied into a smaller document
 * for bson to decode. Null for bytes this cannot walk (the caller decodes them whole).
 */
function decodeExcept(bytes: Buffer, start: number, raw: RawFields): Document | null {
  const end = start + bytes.readInt32LE(start) - 1;
  const kept: Document = {};
  const rest: [from: number, to: number][] = [];
  let restBytes = 5;
  let i = start + 4;
  while (i < end) {
    const elementStart = i;
    const type = bytes[i++]!;
    const nameEnd = bytes.indexOf(0, i);
    if (nameEnd < 0 || nameEnd >= end) return null;
    const valueStart = nameEnd + 1;
    const length = valueLength(bytes, type, valueStart);
    if (length < 0 || valueStart + length > end) return null;
    const rule = type === BSON_DOCUMENT ? raw.get(bytes.toString('latin1', i, nameEnd)) : undefined;
    if (rule === true) {
      kept[bytes.toString('latin1', i, nameEnd)] = new RawBsonDocument(bytes.subarray(valueStart, valueStart + length));
    } else if (rule !== undefined) {
      const inner = decodeExcept(bytes, valueStart, rule);
      if (inner === null) return null;
      kept[bytes.toString('latin1', i, nameEnd)] = inner;
    } else {
      rest.push([elementStart, valueStart + length]);
      restBytes += valueStart + length - elementStart;
    }
    i = valueStart + length;
  }
  if (i !== end) return null;
  const copy = Buffer.allocUnsafe(restBytes);
  copy.writeInt32LE(restBytes, 0);
  let at = 4;
  for (const [from, to] of rest) at += bytes.copy(copy, at, from, to);
  copy[at] = 0;
  return Object.assign(BSON.deserialize(copy, RAW_DECODE_OPTIONS), kept);
}

/**
 * A change event read raw from the driver: its small fields decoded as before (promoteValues: false), its
 * documents (fullDocument, fullDocumentBeforeChange, updateDescription.updatedFields) left as bytes, so the
 * envelope's canonical JSON is written from them without building and walking JS objects. Bytes this cannot walk
 * are decoded whole, as the driver would have.
 */
export function decodeRawChange(bytes: Uint8Array): ChangeStreamDocument<Document> {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let change: Document | null = null;
  try {
    change = decodeExcept(buffer, 0, CHANGE_RAW_FIELDS);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
  }
  return (change ?? BSON.deserialize(buffer, RAW_DECODE_OPTIONS)) as ChangeStreamDocument<Document>;
}
