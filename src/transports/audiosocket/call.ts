/** The real call behind an AudioSocket connection, built by the shared call factory. */
import { createCallFactory, type CallFactoryDeps } from '../../call/factory.js';
import type { CallSession } from '../../call/session.js';
import type { Logger } from '../../log.js';
import type { CallIO } from '../../call/io.js';

export type AudioSocketCallDeps = CallFactoryDeps;

export type AudioSocketCallFactory = (io: CallIO, flow: string, language: string, logger: Logger) => Promise<CallSession>;

export function createAudioSocketCallFactory(deps: AudioSocketCallDeps): AudioSocketCallFactory {
  const create = createCallFactory(deps);
  return (io, flow, language, logger) => create({ io, meta: { transport: 'audiosocket', flow, language, externalId: io.id }, logger });
}
