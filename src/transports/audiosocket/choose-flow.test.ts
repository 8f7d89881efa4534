import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config.js';
import { silentLogger } from '../../log.js';
import { createFlowChooser } from './choose-flow.js';

let server: Server;
let base: string;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const uuid = new URL(req.url ?? '/', 'http://x').searchParams.get('uuid') ?? '';
    seen.push(uuid);
    if (uuid === 'lead') return res.end(JSON.stringify({ flow: 'heating-leads', language: 'fr' }));
    if (uuid === 'broken') return res.writeHead(500).end('oops');
    if (uuid === 'garbage') return res.end('{"flow": 3}');
    if (uuid === 'slow') return void setTimeout(() => res.end(JSON.stringify({ flow: 'x', language: 'en' })), 2000);
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/flow`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function chooser(hook?: string) {
  const config = loadConfig({
    env: {},
    overrides: { audiosocket: { flow: 'support-desk', language: 'en', flowsByUuid: { known: { flow: 'speaking-coach', language: 'fr' } }, flowHookUrl: hook, flowHookTimeoutMs: 300 } },
  });
  return createFlowChooser(config.audiosocket, silentLogger);
}

describe('AudioSocket flow choice', () => {
  it('takes the UUID table first, then the hook, then the default', async () => {
    const choose = chooser(base);
    expect(await choose('known')).toEqual({ flow: 'speaking-coach', language: 'fr' });
    expect(seen).not.toContain('known');
    expect(await choose('lead')).toEqual({ flow: 'heating-leads', language: 'fr' });
    expect(await chooser()('lead')).toEqual({ flow: 'support-desk', language: 'en' });
  });

  it('falls back to the default flow when the hook fails, answers garbage or is too slow', async () => {
    const choose = chooser(base);
    for (const uuid of ['broken', 'garbage', 'unknown']) expect(await choose(uuid), uuid).toEqual({ flow: 'support-desk', language: 'en' });
    const started = performance.now();
    expect(await choose('slow')).toEqual({ flow: 'support-desk', language: 'en' });
    expect(performance.now() - started).toBeLessThan(1500);
  });
});
