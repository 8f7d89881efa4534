/** The real call behind a Twilio stream, built by the shared call factory. */
import { createCallFactory, type CallFactoryDeps } from '../../call/factory.js';
import type { CallSession } from '../../call/session.js';
import type { Logger } from '../../log.js';
import type { TwilioIO } from './twilio-io.js';

export type TwilioCallDeps = CallFactoryDeps;

export type TwilioCallFactory = (args: { io: TwilioIO; flow: string; language: string; logger: Logger; callSid?: string; callerId?: string }) => Promise<CallSession>;

export function createTwilioCallFactory(deps: TwilioCallDeps): TwilioCallFactory {
  const create = createCallFactory(deps);
  return ({ io, flow, language, logger, callSid, callerId }) =>
    create({ io, meta: { transport: 'twilio', flow, language, ...(callSid ? { externalId: callSid } : {}), ...(callerId ? { callerId } : {}) }, logger });
}
