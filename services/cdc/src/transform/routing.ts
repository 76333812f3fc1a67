/** Which Kafka topic a collection's changes go to. */
export function topicFor(template: string, db: string, coll: string): string {
  return template.replaceAll('{db}', db).replaceAll('{coll}', coll);
}

export interface Namespace {
  db: string;
  coll: string;
}

export function parseNamespace(text: string): Namespace {
  const dot = text.indexOf('.');
  return { db: text.slice(0, dot), coll: text.slice(dot + 1) };
}

/**
 * Stable assignment of collections to instances (instance i of N): sorted names, round robin.
 * Every instance computes the same split without talking to the others.
 */
export function assignCollections(namespaces: string[], index: number, count: number): string[] {
  return [...new Set(namespaces)].sort().filter((_, position) => position % count === index);
}

/** The unit that owns one change stream, one transactional id and one checkpoint key. */
export function streamIdFor(ns: string, mode: 'collection' | 'hash', index: number, count: number): string {
  return mode === 'hash' ? `${ns}#${index}of${count}` : ns;
}
