export * from './envelope.js';
export * from './bson-json.js';
export * from './event-id.js';
export * from './bson.js';
export * from './snapshot-complete.js';
