export * from './frames.js';
export * from './allow.js';
export * from './io.js';
export * from './server.js';
export * from './call.js';
export * from './threaded-server.js';
export * from './remote-io.js';
