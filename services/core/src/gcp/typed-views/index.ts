export * from './field-kinds.js';
export * from './view-sql.js';
