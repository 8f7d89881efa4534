export * from './events.js';
export * from './client.js';
export * from './choose-flow.js';
export * from './call.js';
export * from './app.js';
export * from './metrics.js';
