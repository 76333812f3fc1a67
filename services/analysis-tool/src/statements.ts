/**
 * Splits SQL text into complete statements at `;` outside quotes, backticks and comments. What follows the last
 * `;` is returned as `rest` (an incomplete statement: the REPL keeps reading lines until it is complete).
 */
export function splitStatements(text: string): { statements: string[]; rest: string } {
  const statements: string[] = [];
  let start = 0;
  let quote: string | null = null;
  let lineComment = false;
  let blockComment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (lineComment) {
      if (c === '\n') lineComment = false;
    } else if (blockComment) {
      if (c === '*' && next === '/') {
        blockComment = false;
        i++;
      }
    } else if (quote) {
      if (c === '\\' && quote !== '`') i++;
      else if (text.startsWith(quote, i)) {
        i += quote.length - 1;
        quote = null;
      }
    } else if (c === '-' && next === '-') {
      lineComment = true;
      i++;
    } else if (c === '#') {
      lineComment = true;
    } else if (c === '/' && next === '*') {
      blockComment = true;
      i++;
    } else if (c === "'" || c === '"') {
      quote = text.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += quote.length - 1;
    } else if (c === '`') {
      quote = '`';
    } else if (c === ';') {
      const statement = text.slice(start, i).trim();
      if (statement && !isOnlyComments(statement)) statements.push(statement);
      start = i + 1;
    }
  }
  return { statements, rest: text.slice(start) };
}

/** True when the text has nothing but whitespace and comments. */
export function isOnlyComments(text: string): boolean {
  return (
    text
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/(--|#)[^\n]*/g, '')
      .trim() === ''
  );
}

/** Statements that only read: a query (SELECT, or WITH ... SELECT, possibly in parentheses). */
const READ_ONLY_START = new Set(['SELECT', 'WITH']);

/**
 * The first keyword of a statement that is not a plain query (INSERT, DROP, CREATE, MERGE, a script, a CALL, ...),
 * or null when it only reads. An allowlist: anything not recognised as a query counts as a change.
 */
export function changingKeyword(statement: string): string | null {
  const code = statement
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(--|#)[^\n]*/g, ' ')
    .replace(/^[\s(]+/, '');
  const keyword = (/^[A-Za-z_]+/.exec(code)?.[0] ?? '').toUpperCase();
  return READ_ONLY_START.has(keyword) ? null : keyword || '(unrecognised statement)';
}

/** The refusal of a statement that is not a query (changingKeyword named it). */
export function notAQuery(keyword: string): string {
  return `${keyword} is not a query`;
}

/**
 * The one read-only query of `text`, or why it is refused: nothing but comments, more than one statement (a
 * script), or a statement that is not a query. For callers that take one statement at a time (the console).
 */
export function oneQuery(text: string): { query: string } | { refused: string } {
  const { statements, rest } = splitStatements(text);
  if (rest.trim() && !isOnlyComments(rest)) statements.push(rest.trim());
  if (statements.length === 0) return { refused: 'no statement to run' };
  if (statements.length > 1) return { refused: `one statement at a time (found ${statements.length}): scripts are not queries` };
  const keyword = changingKeyword(statements[0]!);
  return keyword ? { refused: `${notAQuery(keyword)}: only queries run here (SELECT or WITH)` } : { query: statements[0]! };
}
