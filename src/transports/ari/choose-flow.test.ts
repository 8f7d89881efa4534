import { describe, expect, it } from 'vitest';
import { chooseAriFlow, parseStasisArgs } from './choose-flow.js';

const defaults = { flow: 'support-desk', language: 'en' };

describe('ARI flow choice', () => {
  it('reads flow= and language= among the Stasis arguments, in any order, and sets the rest aside', () => {
    expect(parseStasisArgs(['language=fr', 'flow=heating-leads'])).toEqual({ flow: 'heating-leads', language: 'fr', unknown: [] });
    expect(parseStasisArgs([' Flow = x ', 'campaign=7', ''])).toEqual({ flow: 'x', unknown: ['campaign=7'] });
  });

  it('takes the arguments first, then the channel variables, then the default, asking only for what is missing', async () => {
    const asked: string[] = [];
    const vars: Record<string, string> = { PALABRE_FLOW: 'speaking-coach', PALABRE_LANGUAGE: 'fr' };
    const read = async (name: string) => {
      asked.push(name);
      return vars[name];
    };
    expect(await chooseAriFlow(['flow=heating-leads', 'language=fr'], read, defaults)).toMatchObject({ flow: 'heating-leads', language: 'fr' });
    expect(asked).toEqual([]);
    expect(await chooseAriFlow(['flow=heating-leads'], read, defaults)).toMatchObject({ flow: 'heating-leads', language: 'fr' });
    expect(asked).toEqual(['PALABRE_LANGUAGE']);
    expect(await chooseAriFlow([], async () => undefined, defaults)).toEqual({ ...defaults, unknownArgs: [] });
  });
});
