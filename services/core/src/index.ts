export * from './config/index.js';
export * from './logging/index.js';
export * from './envelope/index.js';
export * from './http/ops-server.js';
export * from './lifecycle/shutdown.js';
export * from './kafka/client.js';
