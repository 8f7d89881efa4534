/**
 * The server side of a transport in the call benchmark: starts palabre's real
 * transport server on loopback with the benchmark's call factory, and reports
 * what only the server sees (its own pacing lateness, caller frames it had to
 * drop). Each transport has a ServerDriver next to these.
 */
import type { CallSummary } from '../../../src/call/events.js';
import type { Config } from '../../../src/config.js';
import type { FlowRegistry } from '../../../src/dialog/loader.js';
import type { Engines } from '../../../src/engines/registry.js';
import type { Logger } from '../../../src/log.js';
import type { BenchCallFactory } from '../bench-call.js';
import type { DialTarget } from './line-types.js';

export interface ServerDriverDeps {
  config: Config;
  engines: Engines;
  logger: Logger;
  createCall: BenchCallFactory;
  /** The flows the factory builds calls from (the ARI app checks its flow choice against them). */
  flows: FlowRegistry;
  maxCalls: number;
  /** Where the callers' process listens, for transports whose LineDriver has listen(). */
  peer?: DialTarget;
  onCallEnded(call: { id: string; summary: CallSummary | undefined; cause: string }): void;
}

/** Counts over every call the server carried; names say what each is. */
export type TransportStats = Record<string, number>;

export interface BenchServer {
  readonly target: DialTarget;
  /** Where the server ran its media, for the report's header (AudioSocket: "media thread at nice -10"). */
  readonly media?: string;
  /** Calls in progress. */
  active(): number;
  stats(): TransportStats;
  /** Starts the measurement window for what the server times itself (pacing as it sends). */
  measure?(): void;
  close(): Promise<void>;
}

export interface ServerDriver {
  /** What the callers measure of the bot audio, for the report. */
  readonly outbound: 'paced' | 'buffered';
  /** How long the server keeps an ended call's objects on purpose; the memory left after the run is read past it. Default 3 s. */
  readonly holdsEndedCallsMs?: number;
  start(deps: ServerDriverDeps): Promise<BenchServer>;
}
