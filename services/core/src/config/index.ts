export * from './load-config.js';
export * from './secret.js';
export * as fields from './fields.js';
export * from './settings.js';
