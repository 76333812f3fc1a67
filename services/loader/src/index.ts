// Library surface of the loader (tests, tools): the SQL it runs and how it names load jobs.
export * from './sink/sql.js';
export * from './transform/job-id.js';
export { LOADED_DIR, QUARANTINE_DIR } from '@cdc/core';
export { TypedViews } from './views/typed-views.js';
