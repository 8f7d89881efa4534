export * from './frames.js';
export * from './allow.js';
export * from './io.js';
export * from './server.js';
export * from './call.js';
