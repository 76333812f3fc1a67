// Typed views over the Extended JSON documents: columns with BigQuery types from the (field, kind) pairs seen,
// and the SQL of the two views per collection (current state and change history). Pure: no I/O.
import { createHash } from 'node:crypto';
import { qualifiedTable, type WarehouseNames } from '../warehouse.js';
import type { FieldKind, FieldPath } from './field-kinds.js';

/** One (field, kind) pair seen in the data. The order of a list of them is the order they were first seen. */
export interface FieldRecord {
  path: FieldPath;
  kind: FieldKind;
}

export interface ViewColumn {
  name: string;
  /** BigQuery type, e.g. `NUMERIC` or `ARRAY<STRUCT<sku STRING, qty INT64>>` */
  type: string;
  expr: string;
}

/** A field seen with more than one BSON type (or with values its column type cannot hold). */
export interface Drift {
  /** `a.b`, `items[].qty` */
  field: string;
  /** the kinds seen (null left out), first seen first */
  kinds: FieldKind[];
  /** column holding the typed values (dotted inside structs) */
  column: string;
  /** column with the raw value as JSON, when the typed column cannot hold every value exactly */
  companion: string | null;
}

export interface TypedColumns {
  columns: ViewColumn[];
  drifts: Drift[];
}

interface FieldNode {
  kinds: FieldKind[];
  children: Map<string, FieldNode>;
  element: FieldNode | null;
}

const newNode = (): FieldNode => ({ kinds: [], children: new Map(), element: null });

export function fieldTree(records: readonly FieldRecord[]): FieldNode {
  const root = newNode();
  for (const { path, kind } of records) {
    let node = root;
    for (const key of path) {
      if (key === null) node = node.element ??= newNode();
      else {
        let child = node.children.get(key);
        if (!child) node.children.set(key, (child = newNode()));
        node = child;
      }
    }
    if (!node.kinds.includes(kind)) node.kinds.push(kind);
  }
  return root;
}

type Family = 'number' | 'date' | 'string' | 'objectId' | 'bool' | 'document' | 'array' | 'json';

const FAMILY: Record<FieldKind, Family | null> = {
  null: null,
  bool: 'bool',
  string: 'string',
  int32: 'number',
  int64: 'number',
  double: 'number',
  numeric: 'number',
  bignumeric: 'number',
  decimalOutOfRange: 'number',
  date: 'date',
  dateOutOfRange: 'date',
  objectId: 'objectId',
  document: 'document',
  array: 'array',
  other: 'json',
};

/** One BSON type per entry (the refinements of Decimal128 and Date are one type each). */
const BSON_TYPE: Partial<Record<FieldKind, string>> = { bignumeric: 'numeric', decimalOutOfRange: 'numeric', dateOutOfRange: 'date' };
const bsonType = (kind: FieldKind) => BSON_TYPE[kind] ?? kind;

/** Kinds whose values a column of the widened type holds exactly (integers and decimals within BIGNUMERIC). */
const EXACTLY_WIDENED = new Set<FieldKind>(['int32', 'int64', 'numeric', 'bignumeric']);
const OUT_OF_RANGE = new Set<FieldKind>(['decimalOutOfRange', 'dateOutOfRange']);

const WRAPPER: Partial<Record<FieldKind, string>> = {
  int32: '$numberInt',
  int64: '$numberLong',
  double: '$numberDouble',
  numeric: '$numberDecimal',
  bignumeric: '$numberDecimal',
  decimalOutOfRange: '$numberDecimal',
};

/** Names in backticks: a field may be called `order` or `group` (keywords), and the emulator keeps their case only so. */
const quoteName = (name: string) => `\`${name}\``;

/** SQL string literal (BigQuery and the emulator: backslash escapes). */
export const sqlString = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** Column names BigQuery reserves (case-insensitive prefixes). */
const RESERVED_PREFIXES = ['_table_', '_file_', '_partition', '_row_timestamp', '__root__', '_colidentifier', '_change_'];

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 6);

/** A BigQuery column name for a key: letters, digits, underscores, not starting with a digit. */
export function sanitizeName(key: string): string {
  const name = key.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 250) || '_';
  return /^[0-9]/.test(name) ? `_${name}` : name;
}

/**
 * Names of the columns for keys at one level. A key that is a valid, free name keeps it; any other key gets its
 * sanitized form plus a hash of the key, so a column's name does not depend on which other keys exist (views are
 * re-created as fields appear: names must not move). Names are compared case-insensitively, as BigQuery does.
 */
export function columnNames(keys: readonly string[], reserved: readonly string[]): Map<string, string> {
  const taken = new Set(reserved.map((r) => r.toLowerCase()));
  const names = new Map<string, string>();
  const reservedPrefix = (name: string) => RESERVED_PREFIXES.some((p) => name.toLowerCase().startsWith(p));
  const sorted = [...keys].sort();
  for (const key of sorted) {
    if (sanitizeName(key) === key && !reservedPrefix(key) && !taken.has(key.toLowerCase())) {
      names.set(key, key);
      taken.add(key.toLowerCase());
    }
  }
  for (const key of sorted) {
    if (names.has(key)) continue;
    const base = sanitizeName(key);
    let name = `${reservedPrefix(base) ? 'f' : ''}${base}_${shortHash(key)}`;
    while (taken.has(name.toLowerCase())) name += `_${shortHash(name)}`;
    names.set(key, name);
    taken.add(name.toLowerCase());
  }
  return names;
}

/** Where values are read: a JSON string expression and the keys below it. */
interface Source {
  json: string;
  keys: string[];
  /** nesting of array subqueries (each level gets its own aliases) */
  level: number;
  /** the field for humans: `a.b`, `items[].qty` */
  display: string;
}

const jsonPath = (keys: readonly string[]) => sqlString(`$${keys.map((k) => `."${k}"`).join('')}`);
const jsonValue = (at: Source, ...more: string[]) => `JSON_VALUE(${at.json}, ${jsonPath([...at.keys, ...more])})`;
const rawJson = (at: Source) => (at.keys.length === 0 ? `SAFE.PARSE_JSON(${at.json})` : `SAFE.PARSE_JSON(JSON_QUERY(${at.json}, ${jsonPath(at.keys)}))`);
const coalesce = (parts: string[]) => (parts.length === 1 ? parts[0]! : `COALESCE(${parts.join(', ')})`);

function numberType(kinds: readonly FieldKind[]): 'INT64' | 'FLOAT64' | 'NUMERIC' | 'BIGNUMERIC' {
  if (kinds.includes('bignumeric')) return 'BIGNUMERIC';
  if (kinds.includes('numeric') || kinds.includes('decimalOutOfRange')) return 'NUMERIC';
  if (kinds.includes('double')) return 'FLOAT64';
  return 'INT64';
}

const CONVERT: Record<ReturnType<typeof numberType>, (text: string) => string> = {
  INT64: (text) => `SAFE_CAST(${text} AS INT64)`,
  FLOAT64: (text) => `SAFE_CAST(${text} AS FLOAT64)`,
  NUMERIC: (text) => `SAFE.PARSE_NUMERIC(${text})`,
  BIGNUMERIC: (text) => `SAFE.PARSE_BIGNUMERIC(${text})`,
};

interface Typed {
  type: string;
  expr: string;
}

/** The typed value of a node at `at` (JSON when no BigQuery type fits). Drifts below it are added to `drifts`. */
function typedValue(node: FieldNode, at: Source, drifts: Drift[], column: string): Typed {
  const kinds = node.kinds.filter((k) => k !== 'null');
  const primary = kinds[0] ? FAMILY[kinds[0]] : 'json';
  const json = { type: 'JSON', expr: rawJson(at) };
  switch (primary) {
    case 'number': {
      const type = numberType(kinds);
      const wrappers = [...new Set(kinds.filter((k) => FAMILY[k] === 'number').map((k) => WRAPPER[k]!))];
      return { type, expr: coalesce(wrappers.map((w) => CONVERT[type](jsonValue(at, w)))) };
    }
    case 'date':
      return { type: 'TIMESTAMP', expr: `SAFE.TIMESTAMP_MILLIS(SAFE_CAST(${jsonValue(at, '$date', '$numberLong')} AS INT64))` };
    case 'string':
      return { type: 'STRING', expr: jsonValue(at) };
    case 'objectId':
      return { type: 'STRING', expr: jsonValue(at, '$oid') };
    case 'bool':
      return { type: 'BOOL', expr: `SAFE_CAST(${jsonValue(at)} AS BOOL)` };
    case 'document': {
      if (node.children.size === 0) return json;
      const fields = structFields(node, at, drifts, column);
      const struct = `STRUCT(${fields.map((f) => `${f.expr} AS ${quoteName(f.name)}`).join(', ')})`;
      const type = `STRUCT<${fields.map((f) => `${f.name} ${f.type}`).join(', ')}>`;
      // A missing or null document stays NULL (not a STRUCT of NULLs); inside arrays the caller filters instead.
      if (at.keys.length === 0) return { type, expr: struct };
      return { type, expr: `IF(STARTS_WITH(JSON_QUERY(${at.json}, ${jsonPath(at.keys)}), '{'), ${struct}, NULL)` };
    }
    case 'array': {
      const element = node.element;
      // Only empty arrays seen, or arrays of arrays (BigQuery has no ARRAY<ARRAY>): the array as JSON.
      if (!element || FAMILY[element.kinds.find((k) => k !== 'null') ?? 'null'] === 'array') return json;
      const alias = `e${at.level + 1}`;
      const offset = `o${at.level + 1}`;
      const inner: Source = { json: alias, keys: [], level: at.level + 1, display: `${at.display}[]` };
      const value = typedValue(element, inner, drifts, `${column}[]`);
      // BigQuery refuses NULL elements in results: they are left out (the companion column keeps them).
      const keep = value.type.startsWith('STRUCT<') ? `STARTS_WITH(${alias}, '{')` : `${value.expr} IS NOT NULL`;
      return {
        type: `ARRAY<${value.type}>`,
        expr: `ARRAY(SELECT ${value.expr} FROM UNNEST(JSON_QUERY_ARRAY(${at.json}, ${jsonPath(at.keys)})) AS ${alias} WITH OFFSET ${offset} WHERE ${keep} ORDER BY ${offset})`,
      };
    }
    default:
      return json;
  }
}

/** True when a typed column cannot hold every value seen exactly (a raw JSON companion column is added). */
function needsCompanion(node: FieldNode): boolean {
  const kinds = node.kinds.filter((k) => k !== 'null');
  if (kinds.some((k) => OUT_OF_RANGE.has(k))) return true;
  const families = new Set(kinds.map((k) => FAMILY[k]));
  if (families.size > 1) return true;
  if (families.has('number') && new Set(kinds.map(bsonType)).size > 1 && !kinds.every((k) => EXACTLY_WIDENED.has(k))) return true;
  // Array elements that are null or of several types cannot all be in a typed array.
  if (families.has('array') && node.element) return node.element.kinds.includes('null') || needsCompanion(node.element);
  return false;
}

/** Columns (struct fields) for the children of a document node, with companions for drifted fields. */
function structFields(node: FieldNode, at: Source, drifts: Drift[], column: string, reserved: readonly string[] = []): ViewColumn[] {
  const keys = [...node.children.keys()];
  const names = columnNames(keys, reserved);
  const taken = [...reserved, ...names.values()];
  const out: ViewColumn[] = [];
  for (const key of [...keys].sort()) {
    const child = node.children.get(key)!;
    const name = names.get(key)!;
    const here: Source = { ...at, keys: [...at.keys, key], display: at.display ? `${at.display}.${key}` : key };
    const path = column ? `${column}.${name}` : name;
    const value = typedValue(child, here, drifts, path);
    out.push({ name, ...value });
    const kinds = child.kinds.filter((k) => k !== 'null');
    const drifted = new Set(kinds.map(bsonType)).size > 1;
    // A JSON column holds every value already.
    const companion = value.type !== 'JSON' && needsCompanion(child);
    if (companion) {
      let companionName = `${name}_json`;
      if (taken.some((t) => t.toLowerCase() === companionName.toLowerCase())) companionName += `_${shortHash(key)}`;
      taken.push(companionName);
      out.push({ name: companionName, type: 'JSON', expr: rawJson(here) });
      drifts.push({ field: here.display, kinds, column: path, companion: column ? `${column}.${companionName}` : companionName });
    } else if (drifted) {
      drifts.push({ field: here.display, kinds, column: path, companion: null });
    }
  }
  return out;
}

/** Metadata columns of the views (names the document's fields cannot take). */
export const VIEW_METADATA_COLUMNS = ['_db', '_document_id', '_event_id', '_op', '_cluster_time', '_cluster_time_increment', '_snapshot', '_updated_at', '_document', '_update_description'] as const;

/** The typed columns of a collection's views, from the (field, kind) pairs seen in order. */
export function typedColumns(records: readonly FieldRecord[]): TypedColumns {
  const drifts: Drift[] = [];
  const columns = structFields(fieldTree(records), { json: 'document', keys: [], level: 0, display: '' }, drifts, '', VIEW_METADATA_COLUMNS);
  return { columns, drifts };
}

export interface TypedViewNames {
  /** current state: one row per live document */
  current: string;
  /** every change, duplicates dropped */
  history: string;
}

/** The views of a collection: `orders` and `orders_history` (the one place these names are made). */
export function typedViewNames(collection: string): TypedViewNames {
  const base = sanitizeName(collection);
  return { current: base, history: `${base}_history` };
}

const selectList = (columns: readonly ViewColumn[]) => columns.map((c) => `  ${c.expr} AS ${quoteName(c.name)}`).join(',\n');

/** CREATE OR REPLACE VIEW statements (current, history) for a collection. */
export function typedViewStatements(names: WarehouseNames, collection: string, columns: readonly ViewColumn[]): { current: string; history: string } {
  const views = typedViewNames(collection);
  const typed = columns.length > 0 ? `${selectList(columns)},\n` : '';
  const where = `coll = ${sqlString(collection)}`;
  const describe = (what: string) => `OPTIONS (description = ${sqlString(`${what} of collection ${collection}: typed columns generated by the loader from the fields seen; the exact document (canonical Extended JSON) in _document`)})`;
  const current = `CREATE OR REPLACE VIEW ${qualifiedTable(names, views.current)}
${describe('Current state')}
AS SELECT
  db AS _db,
  document_id AS _document_id,
${typed}  cluster_time AS _cluster_time,
  updated_at AS _updated_at,
  document AS _document
FROM ${qualifiedTable(names, names.currentTable)}
WHERE ${where}`;
  const history = `CREATE OR REPLACE VIEW ${qualifiedTable(names, views.history)}
${describe('Change history (duplicates dropped)')}
AS SELECT
  db AS _db,
  event_id AS _event_id,
  op AS _op,
  cluster_time AS _cluster_time,
  cluster_time_increment AS _cluster_time_increment,
  snapshot AS _snapshot,
  document_id AS _document_id,
${typed}  document AS _document,
  update_description AS _update_description
FROM ${qualifiedTable(names, names.changesTable)}
WHERE ${where} AND op != 'snapshot_complete'
QUALIFY ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY kafka_offset) = 1`;
  return { current, history };
}
