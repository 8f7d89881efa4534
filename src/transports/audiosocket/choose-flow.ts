/**
 * Which flow an AudioSocket call runs: the UUID table first, then an HTTP
 * hook when configured (a CRM or IVR service that knows what the UUID is
 * for), then the default. A hook that fails or is slow never loses the
 * call: it falls back to the default, logged, since the caller is waiting.
 */
import { z } from 'zod';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';

const hookAnswer = z.object({ flow: z.string().min(1), language: z.string().min(2) });

export type FlowChoice = z.infer<typeof hookAnswer>;

export function createFlowChooser(c: Config['audiosocket'], logger: Logger, fetchImpl: typeof fetch = fetch): (uuid: string) => Promise<FlowChoice> {
  const fallback: FlowChoice = { flow: c.flow, language: c.language };
  return async (uuid) => {
    const known = c.flowsByUuid[uuid];
    if (known) return known;
    if (!c.flowHookUrl) return fallback;
    const url = new URL(c.flowHookUrl);
    url.searchParams.set('uuid', uuid);
    try {
      const res = await fetchImpl(url, { signal: AbortSignal.timeout(c.flowHookTimeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const parsed = hookAnswer.safeParse(await res.json());
      if (!parsed.success) throw new Error(`answer is not {flow, language}: ${parsed.error.issues[0]?.message}`);
      return parsed.data;
    } catch (err) {
      logger.warn({ uuid, hook: url.origin + url.pathname, err: (err as Error).message }, 'flow hook failed; running the default flow');
      return fallback;
    }
  };
}
