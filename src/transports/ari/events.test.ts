import { describe, expect, it } from 'vitest';
import { parseAriMessage } from './events.js';

const channel = { id: '1700000000.1', name: 'PJSIP/alice-00000001', state: 'Ring', caller: { name: 'Alice', number: '1001' }, connected: { name: '', number: '' }, accountcode: '', dialplan: { context: 'default', exten: '100', priority: 2, app_name: 'Stasis', app_data: 'palabre' }, creationtime: '2024-01-01T00:00:00.000+0000', language: 'en' };

describe('ARI event messages', () => {
  it('reads the events palabre acts on, with their fields', () => {
    const start = parseAriMessage(JSON.stringify({ type: 'StasisStart', application: 'palabre', timestamp: 't', args: ['flow=x'], channel }));
    expect(start).toMatchObject({ ok: true, event: { type: 'StasisStart', args: ['flow=x'], channel: { id: '1700000000.1', caller: { number: '1001' } } } });
    expect(parseAriMessage(JSON.stringify({ type: 'ChannelDtmfReceived', digit: '#', duration_ms: 100, channel }))).toMatchObject({ ok: true, event: { digit: '#' } });
    expect(parseAriMessage(JSON.stringify({ type: 'PlaybackFinished', playback: { id: 'p1', media_uri: 'sound:hello-world', target_uri: 'channel:1', language: 'en', state: 'done' } }))).toMatchObject({ ok: true, event: { playback: { id: 'p1', state: 'done' } } });
  });

  it('passes events it does not use on by name, and refuses broken ones by name', () => {
    expect(parseAriMessage('{"type":"BridgeCreated","bridge":{}}')).toEqual({ ok: true, event: { type: 'other', name: 'BridgeCreated', raw: { type: 'BridgeCreated', bridge: {} } } });
    expect(parseAriMessage('{oops')).toEqual({ ok: false, problem: 'not JSON: "{oops"' });
    expect(parseAriMessage('[1]')).toEqual({ ok: false, problem: 'not a JSON object' });
    expect(parseAriMessage('{"channel":{}}')).toEqual({ ok: false, problem: 'no "type" field' });
    expect(parseAriMessage('{"type":"StasisEnd"}')).toMatchObject({ ok: false, problem: expect.stringMatching(/^StasisEnd with channel: /) });
    expect(parseAriMessage(JSON.stringify({ type: 'ChannelDtmfReceived', digit: '12', channel }))).toMatchObject({ ok: false, problem: expect.stringMatching(/^ChannelDtmfReceived with digit: /) });
  });
});
