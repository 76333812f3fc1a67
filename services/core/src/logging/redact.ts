// Credentials inside connection strings (mongodb://user:pass@host) are masked wherever they appear.
const URI_CREDENTIALS = /([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]+):([^\s@/]+)@/gi;

export function redactUriCredentials(text: string): string {
  return text.replace(URI_CREDENTIALS, '$1$2:***@');
}

const MAX_DEPTH = 4;

/** Deep copy of a log payload with URI credentials masked in every string (bounded depth). */
export function scrubStrings(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactUriCredentials(value);
  if (depth >= MAX_DEPTH || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubStrings(v, depth + 1));
  if (value instanceof Error) {
    return { type: value.name, message: redactUriCredentials(value.message), stack: value.stack && redactUriCredentials(value.stack) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubStrings(v, depth + 1);
  return out;
}
