/** A value from the BigQuery client as plain text/JSON: timestamps and dates by value, big numbers as strings. */
export function plainValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value.toString();
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(plainValue);
  if (typeof value === 'object') {
    const v = value as Record<string, unknown>;
    // BigQueryTimestamp / BigQueryDate / BigQueryDatetime / BigQueryTime / BigQueryInt: { value }
    if ('value' in v && Object.keys(v).length <= 2) return plainValue(v.value);
    const ctor = (value as { constructor?: { name?: string } }).constructor?.name;
    if (ctor === 'Big') return String(value);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plainValue(x)]));
  }
  return value;
}

export function plainRows(rows: readonly Record<string, unknown>[]): Record<string, unknown>[] {
  return rows.map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plainValue(v)])));
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'string') return value;
  return typeof value === 'object' ? JSON.stringify(value) : String(value);
}

/** One line, at most `width` characters (an ellipsis marks a cut). */
function fit(text: string, width: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(1, width - 1))}…`;
}

/**
 * Rows as an aligned text table: a header, a rule, one line per row; numbers right-aligned, long values cut to
 * `maxWidth` characters. Columns come from the first row (BigQuery rows all have the same fields).
 */
export function formatTable(rows: readonly Record<string, unknown>[], options: { maxWidth?: number; columns?: string[] } = {}): string {
  const maxWidth = options.maxWidth ?? 60;
  const columns = options.columns ?? (rows[0] ? Object.keys(rows[0]) : []);
  if (columns.length === 0) return '(no columns)';
  const cells = rows.map((row) => columns.map((c) => fit(cellText(plainValue(row[c])), maxWidth)));
  const numeric = columns.map((c) => rows.length > 0 && rows.every((row) => row[c] === null || typeof plainValue(row[c]) === 'number' || /^-?\d+(\.\d+)?$/.test(String(plainValue(row[c])))));
  const widths = columns.map((c, k) => Math.max(c.length, ...cells.map((line) => line[k]!.length)));
  const pad = (text: string, k: number) => (numeric[k] ? text.padStart(widths[k]!) : text.padEnd(widths[k]!));
  const lines = [columns.map((c, k) => c.padEnd(widths[k]!)).join(' | ').trimEnd(), widths.map((w) => '-'.repeat(w)).join('-+-')];
  for (const line of cells) lines.push(line.map((text, k) => pad(text, k)).join(' | ').trimEnd());
  return lines.join('\n');
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function rowCount(n: number): string {
  return `${n} row${n === 1 ? '' : 's'}`;
}
