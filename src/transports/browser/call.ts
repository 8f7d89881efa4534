/** The real call behind a browser session, built by the shared call factory. */
import { createCallFactory, type CallFactoryDeps } from '../../call/factory.js';
import type { Logger } from '../../log.js';
import type { CallFactory, CallHandle } from './sessions.js';

export { checkCallEngines } from '../../call/engines.js';

export interface BrowserCallDeps extends CallFactoryDeps {
  logger: Logger;
}

export function createBrowserCallFactory(deps: BrowserCallDeps): CallFactory {
  const create = createCallFactory(deps);
  return ({ io, sessionId, flow, language, logger }): Promise<CallHandle> => create({ io, meta: { transport: 'browser', flow, language, externalId: sessionId }, logger });
}
