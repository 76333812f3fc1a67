// The test's own model of a collection, rebuilt from change events alone: insert and replace take fullDocument,
// update applies updateDescription (updatedFields / removedFields / truncatedArrays, keys as dotted paths),
// delete removes. It shares no code with the stand-in, so a write the stand-in did not log (or logged wrongly)
// shows up as a difference from what find() returns.
import assert from 'node:assert/strict';
import { BSON, type ChangeStreamDocument, type Document, type Timestamp } from 'mongodb';

const { EJSON } = BSON;

/** Canonical Extended JSON: exact types (Int32 vs Double vs Long) and key order. */
export const canonical = (value: unknown): string => EJSON.stringify(value, { relaxed: false });

/** A Timestamp as one comparable number (seconds << 32 | increment). */
export const timestampValue = (ts: Timestamp): bigint => (BigInt(ts.t) << 32n) | BigInt(ts.i);

type Container = Document | unknown[];

function child(container: Container, part: string): unknown {
  return Array.isArray(container) ? container[Number(part)] : container[part];
}

function setChild(container: Container, part: string, value: unknown): void {
  if (Array.isArray(container)) {
    const index = Number(part);
    assert.ok(Number.isInteger(index), `array index expected, got ${part}`);
    while (container.length < index) container.push(null); // MongoDB pads with null
    container[index] = value;
  } else {
    container[part] = value;
  }
}

/** MongoDB path semantics: each dot descends; a numeric part indexes an array; missing parents become documents. */
function setPath(document: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let current: Container = document;
  for (const part of parts.slice(0, -1)) {
    let next = child(current, part);
    if (next === undefined || next === null) {
      next = {};
      setChild(current, part, next);
    }
    assert.ok(typeof next === 'object', `path ${path} crosses a non-container at ${part}`);
    current = next as Container;
  }
  setChild(current, parts[parts.length - 1] ?? path, value);
}

function unsetPath(document: Document, path: string): void {
  const parts = path.split('.');
  let current: unknown = document;
  for (const part of parts.slice(0, -1)) {
    if (current === null || typeof current !== 'object') return;
    current = child(current as Container, part);
  }
  if (current === null || typeof current !== 'object') return;
  const last = parts[parts.length - 1] ?? path;
  if (Array.isArray(current)) current[Number(last)] = null; // $unset of an element leaves null, as MongoDB
  else delete (current as Document)[last];
}

function getPath(document: Document, path: string): unknown {
  let current: unknown = document;
  for (const part of path.split('.')) {
    if (current === null || typeof current !== 'object') return undefined;
    current = child(current as Container, part);
  }
  return current;
}

export class ReplayedCollection {
  private readonly documents = new Map<string, Document>();

  apply(event: ChangeStreamDocument): void {
    if (!('documentKey' in event)) assert.fail(`unexpected ${event.operationType} event`);
    const key = canonical(event.documentKey._id);
    switch (event.operationType) {
      case 'insert':
        assert.ok(!this.documents.has(key), `insert of an existing _id ${key}`);
        this.documents.set(key, structuredCopy(event.fullDocument));
        break;
      case 'replace':
        assert.ok(this.documents.has(key), `replace of a missing _id ${key}`);
        this.documents.set(key, structuredCopy(event.fullDocument));
        break;
      case 'update': {
        const document = this.documents.get(key);
        assert.ok(document, `update of a missing _id ${key}`);
        const { updatedFields, removedFields, truncatedArrays } = event.updateDescription;
        for (const { field, newSize } of truncatedArrays ?? []) {
          const array = getPath(document, field);
          assert.ok(Array.isArray(array), `truncatedArrays names ${field}, not an array`);
          array.length = newSize;
        }
        for (const path of removedFields ?? []) unsetPath(document, path);
        for (const [path, value] of Object.entries(updatedFields ?? {})) setPath(document, path, structuredCopy(value));
        break;
      }
      case 'delete':
        assert.ok(this.documents.delete(key), `delete of a missing _id ${key}`);
        break;
      default:
        assert.fail(`unexpected ${(event as ChangeStreamDocument).operationType} event`);
    }
  }

  get(id: unknown): Document | undefined {
    return this.documents.get(canonical(id));
  }

  /** Canonical EJSON of every document, keyed by canonical _id. */
  canonicalDocuments(): Map<string, string> {
    return new Map([...this.documents].map(([key, document]) => [key, canonical(document)]));
  }
}

/** A deep copy that keeps BSON wrapper types (Int32, Double, Long, …) intact. */
function structuredCopy<T>(value: T): T {
  return EJSON.deserialize(EJSON.serialize(value, { relaxed: false }), { relaxed: false }) as T;
}

/** What find() returns, in the same shape as ReplayedCollection.canonicalDocuments(). */
export function canonicalById(documents: Document[]): Map<string, string> {
  return new Map(documents.map((document) => [canonical(document._id), canonical(document)]));
}
