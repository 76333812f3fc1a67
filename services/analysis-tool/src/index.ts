// The analysis tool's code as a library (the console's query box runs its queries through it).
export { analysisToolSettings } from './config.js';
export { oneQuery, changingKeyword, notAQuery } from './statements.js';
export { runQuery, withDeadline, QueryTimeout, type QueryBounds, type QueryResult } from './run-query.js';
export { orderViews, type OrderViews } from './queries.js';
