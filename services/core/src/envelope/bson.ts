import { createRequire } from 'node:module';

/**
 * The CommonJS build of `bson`, the same instance the `mongodb` driver (CommonJS) uses: importing the ESM
 * build would give a second copy whose classes fail `instanceof` against the driver's values.
 */
const require = createRequire(import.meta.url);
export const BSON = require('bson') as typeof import('bson');
