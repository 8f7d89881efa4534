export * from './packet.js';
export * from './format.js';
export * from './jitter-buffer.js';
export * from './port-pool.js';
export * from './counters.js';
export * from './rtp-io.js';
