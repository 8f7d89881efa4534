export { RealtimeClient, type RealtimeConnectOptions } from './client.js';
export { ENGINE as REALTIME_ENGINE, serverError } from './errors.js';
export * from './protocol.js';
