/**
 * The operator API over real HTTP on loopback, on PGlite and (when
 * PALABRE_TEST_DATABASE_URL is set) on PostgreSQL, each in a fresh database.
 * The store is seeded through its real write path (test/support/store.ts);
 * every expected figure below is worked out by hand from that seed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { type Engines, loadEngines } from '../src/engines/registry.js';
import { silentLogger } from '../src/log.js';
import { buildApp } from '../src/server/app.js';
import { type CallDetail, type CallListItem, type RecordItem, iterateCalls, iterateRecords } from '../src/store/queries.js';
import type { CallStats } from '../src/store/stats.js';
import { type TestDatabase, storeTargets } from '../src/store/test-support.js';
import type { Page, Store } from '../src/store/types.js';
import { SEED, seedCalls, seedDays, seedStart } from './support/store.js';

interface Server {
  url: string;
  app: FastifyInstance;
}

async function serve(store: Store, recordingsDir: string, engines: Engines, server: Record<string, unknown> = {}, host = '127.0.0.1'): Promise<Server> {
  const config = loadConfig({ env: {}, overrides: { server: { port: 0, host, ...server }, log: { level: 'silent' } } });
  const app = await buildApp({ config, engines, logger: silentLogger, store, recordingsDir });
  const address = await app.listen({ port: 0, host });
  const port = new URL(address).port;
  return { url: `http://127.0.0.1:${port}`, app };
}

/** A small RFC 4180 reader, to check the export field by field. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else field += c;
      i++;
      continue;
    }
    if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else if (c === '\n' || c === '\r') throw new Error(`bare line break at ${i}`);
    else field += c;
    i++;
  }
  if (field !== '' || row.length > 0) throw new Error('the last record has no CRLF');
  return rows;
}

const days = seedDays();
const localDate = (d: Date) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
const ids = (items: Array<{ id: string }>) => items.map((c) => c.id);
/** Seed ids newest first, as the list orders them (started_at desc, id desc). */
const byRecency = (list: typeof SEED) =>
  [...list].sort((a, b) => seedStart(b, days).getTime() - seedStart(a, days).getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)).map((c) => c.id);

let engines: Engines;

beforeAll(async () => {
  engines = await loadEngines(loadConfig({ env: {}, overrides: { log: { level: 'silent' } } }), silentLogger, { kinds: [] });
});

afterAll(async () => {
  await engines?.close();
});

for (const target of storeTargets().filter((t) => t.name !== 'pglite-dir')) {
  describe(`operator API on ${target.name}`, () => {
    let database: TestDatabase;
    let store: Store;
    let recordingsDir: string;
    let open: Server;
    let guarded: Server;

    const get = (path: string, init?: RequestInit) => fetch(open.url + path, init);
    const json = async <T>(path: string): Promise<T> => {
      const res = await get(path);
      expect(res.status, `${path}: ${res.status}`).toBe(200);
      return (await res.json()) as T;
    };
    const callPage = (path: string) => json<Page<CallListItem>>(path);
    const callDetail = (path: string) => json<CallDetail & { recording: { url: string } | null }>(path);
    const recordPage = (path: string) => json<Page<RecordItem>>(path);
    const statsOf = (path: string) => json<CallStats & { timeZone: string }>(path);
    const refusal = async (path: string, status: number) => {
      const res = await get(path);
      const body = (await res.json()) as { error: string; message: string };
      expect(res.status, `${path} → ${JSON.stringify(body)}`).toBe(status);
      return body.message;
    };

    beforeAll(async () => {
      database = await target.create();
      store = await database.open();
      await store.migrate();
      recordingsDir = mkdtempSync(join(tmpdir(), 'palabre-recordings-'));
      await seedCalls(store, recordingsDir, days);
      open = await serve(store, recordingsDir, engines);
      guarded = await serve(store, recordingsDir, engines, { adminToken: 'admin-secret', authToken: 'speech-secret' });
    }, 120_000);

    afterAll(async () => {
      await open?.app.close();
      await guarded?.app.close();
      await store?.close();
      await database?.dispose();
      if (recordingsDir) rmSync(recordingsDir, { recursive: true, force: true });
    });

    describe('GET /api/calls', () => {
      it('lists every call newest first with its figures', async () => {
        const page = await callPage('/api/calls?limit=500');
        expect(page.total).toBe(SEED.length);
        expect(page.next).toBeUndefined();
        expect(ids(page.items)).toEqual(byRecency(SEED));
        const a1 = page.items.find((c: { id: string }) => c.id === 'call-a1');
        expect(a1).toMatchObject({
          transport: 'audiosocket',
          externalId: 'uuid-a1',
          callerId: '+33612345678',
          flow: 'support-desk',
          language: 'en',
          startedAt: seedStart(SEED[0], days).toISOString(),
          endedAt: new Date(seedStart(SEED[0], days).getTime() + 120_000).toISOString(),
          durationMs: 120_000,
          endReason: 'caller_hangup',
          outcome: 'completed',
          sentiment: 'negative',
          cost: 0.042,
          turnCount: 2,
          meanTurnLatencyMs: 660,
          hasRecording: true,
        });
        const f6 = page.items.find((c: { id: string }) => c.id === 'call-f6');
        expect(f6).toMatchObject({ outcome: 'in_progress', endedAt: null, durationMs: null, sentiment: null, hasRecording: false });
      });

      it('filters by flow, outcome, transport and caller substring', async () => {
        expect(ids((await callPage('/api/calls?flow=heating-leads')).items)).toEqual(['call-c3']);
        expect(ids((await callPage('/api/calls?outcome=transferred')).items)).toEqual(['call-e5', 'call-b2']);
        expect(ids((await callPage('/api/calls?transport=twilio&outcome=transferred&flow=support-desk')).items)).toEqual(['call-e5', 'call-b2']);
        expect(ids((await callPage('/api/calls?caller=612')).items)).toEqual(['call-a1']);
        expect(ids((await callPage('/api/calls?caller=4155550')).items)).toEqual(['call-e5', 'call-b2']);
        // LIKE wildcards in the caller are literal characters.
        expect(ids((await callPage('/api/calls?caller=' + encodeURIComponent('100%_'))).items)).toEqual(['call-d4']);
        expect((await callPage('/api/calls?caller=' + encodeURIComponent('%'))).total).toBe(1);
        expect((await callPage('/api/calls?outcome=in_progress')).total).toBe(1);
      });

      it('filters by date range: bare dates are whole local days, date-times are exact', async () => {
        const past = localDate(days.past);
        const pastNext = localDate(new Date(days.past.getFullYear(), days.past.getMonth(), days.past.getDate() + 1));
        expect(ids((await callPage(`/api/calls?from=${past}&to=${past}`)).items)).toEqual(['call-b2', 'call-a1']);
        expect(ids((await callPage(`/api/calls?from=${past}&to=${pastNext}`)).items)).toEqual(['call-c3', 'call-b2', 'call-a1']);
        const a1 = seedStart(SEED[0], days);
        const at = encodeURIComponent(a1.toISOString());
        expect(ids((await callPage(`/api/calls?from=${at}&to=${encodeURIComponent(new Date(a1.getTime() + 1).toISOString())}`)).items)).toEqual(['call-a1']);
        expect(ids((await callPage(`/api/calls?to=${at}&flow=support-desk`)).items)).toEqual([]);
        expect((await callPage(`/api/calls?from=${localDate(days.today)}`)).total).toBe(3);
        // An offset written with an unencoded + arrives as a space and is still read as an offset.
        const plus = `${localDate(days.old)}T00:00:00+00:00`.replace('+', '%20');
        expect((await callPage(`/api/calls?from=${plus}&flow=bulk-flow`)).total).toBeGreaterThan(0);
      });

      it('searches the transcript by whole words, any case, all words, "phrases" in order', async () => {
        expect(ids((await callPage('/api/calls?q=boiler')).items)).toEqual(['call-a1']);
        expect(ids((await callPage('/api/calls?q=BOILER')).items)).toEqual(['call-a1']);
        // Words on different lines of one call, and a bot line.
        expect(ids((await callPage('/api/calls?q=' + encodeURIComponent('boiler heating'))).items)).toEqual(['call-a1']);
        expect(ids((await callPage('/api/calls?q=' + encodeURIComponent('ticket opened'))).items)).toEqual(['call-a1']);
        expect(ids((await callPage('/api/calls?q=' + encodeURIComponent('"heating is broken"'))).items)).toEqual(['call-a1']);
        expect(ids((await callPage('/api/calls?q=' + encodeURIComponent('"broken heating"'))).items)).toEqual([]);
        expect(ids((await callPage('/api/calls?q=' + encodeURIComponent('boiler internet'))).items)).toEqual([]);
        expect(ids((await callPage('/api/calls?q=human')).items)).toEqual(['call-b2']);
        expect(ids((await callPage('/api/calls?q=postal')).items)).toEqual(['call-c3']);
        expect((await callPage('/api/calls?q=boil')).total).toBe(0);
        expect(ids((await callPage('/api/calls?q=still')).items)).toEqual(['call-f6', 'call-d4']);
      });

      it('pages with a keyset cursor: every call once, in order, ties broken by id', async () => {
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await callPage(`/api/calls?flow=bulk-flow&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
          expect(page.total).toBe(25);
          expect(page.items.length).toBeLessThanOrEqual(7);
          seen.push(...ids(page.items));
          cursor = page.next;
          pages++;
        } while (cursor);
        expect(pages).toBe(4);
        expect(seen).toEqual(byRecency(SEED.filter((c) => c.meta.flow === 'bulk-flow')));
        // The ten calls of the same instant come last, by id descending, split across pages.
        expect(seen.slice(15)).toEqual(['bulk-09', 'bulk-08', 'bulk-07', 'bulk-06', 'bulk-05', 'bulk-04', 'bulk-03', 'bulk-02', 'bulk-01', 'bulk-00']);
      });

      it('refuses bad parameters with a 400 naming them', async () => {
        expect(await refusal('/api/calls?limit=0', 400)).toMatch(/^limit: /);
        expect(await refusal('/api/calls?limit=501', 400)).toMatch(/^limit: must be <= 500/);
        expect(await refusal('/api/calls?limit=ten', 400)).toMatch(/^limit: must be an integer/);
        expect(await refusal('/api/calls?outcome=happy', 400)).toMatch(/^outcome: must be one of completed, transferred, abandoned, failed, interrupted, in_progress/);
        expect(await refusal('/api/calls?from=2025-13-01', 400)).toMatch(/^from: "2025-13-01" is not a calendar date/);
        expect(await refusal('/api/calls?from=2025-02-30', 400)).toMatch(/^from: /);
        expect(await refusal('/api/calls?to=yesterday', 400)).toMatch(/^to: "yesterday" is not a date: use YYYY-MM-DD/);
        expect(await refusal('/api/calls?from=2025-03-01T10:00:00', 400)).toMatch(/^from: .*offset/);
        expect(await refusal('/api/calls?from=2025-03-02&to=2025-03-01', 400)).toMatch(/^to: must be after from/);
        expect(await refusal('/api/calls?cursor=garbage!', 400)).toMatch(/^cursor: not a cursor this server gave/);
        expect(await refusal('/api/calls?cursor=' + Buffer.from('{"x":1}').toString('base64url'), 400)).toMatch(/^cursor: /);
        expect(await refusal('/api/calls?q=' + encodeURIComponent('!!! ...'), 400)).toMatch(/^q: has no word/);
        expect(await refusal('/api/calls?colour=red', 400)).toMatch(/^colour: unknown query parameter/);
        const recordsPage = await recordPage('/api/records?limit=1');
        expect(await refusal(`/api/calls?cursor=${recordsPage.next}`, 400)).toMatch(/^cursor: it belongs to the records list/);
      });
    });

    describe('GET /api/calls/:id', () => {
      it('returns the transcript in order, events, records, recording, latencies and cost', async () => {
        const detail = await callDetail('/api/calls/call-a1');
        expect(detail.call).toMatchObject({ id: 'call-a1', cost: 0.042, usage: { stt: { audioSeconds: 12.5, requests: 2 } }, states: ['greeting'] });
        expect(detail.turns.map((t: { speaker: string; text: string }) => `${t.speaker}: ${t.text}`)).toEqual([
          'caller: my heating is broken and I am furious',
          'bot: I am sorry to hear that',
          'caller: the boiler makes a terrible noise',
          'bot: I have opened a ticket',
        ]);
        expect(detail.turns[0]).toMatchObject({ turn: 1, confidence: 0.9, intent: 'report_problem', cut: false });
        expect(detail.turns[0].timeline).toMatchObject({ turn: 1, endOfTurnMs: 1000, firstAudioOutMs: 1520 });
        const types = detail.events.map((e: { type: string }) => e.type);
        expect(types).toEqual(expect.arrayContaining(['call-started', 'state', 'intent', 'call-ended']));
        expect(detail.events.find((e: { type: string }) => e.type === 'state')?.data).toMatchObject({ from: null, to: 'greeting' });
        expect(detail.records).toEqual([expect.objectContaining({ callId: 'call-a1', kind: 'ticket', flow: 'support-desk', data: { problem: 'no_heating', name: 'Dupont, "Jo"', note: 'line one\r\nline two' } })]);
        expect(detail.recording).toMatchObject({ format: 'wav', channels: 2, complete: true, url: '/api/calls/call-a1/recording' });
        expect(detail.latencies.turns).toEqual([
          { turn: 1, kind: 'speech', outcome: 'answered', endOfTurnToFirstAudioMs: 520, sttMs: 300, dialogMs: 50, ttsFirstAudioMs: 10 },
          { turn: 2, kind: 'speech', outcome: 'answered', endOfTurnToFirstAudioMs: 800, sttMs: 200, dialogMs: 30, ttsFirstAudioMs: 10 },
        ]);
        expect(detail.latencies.endOfTurnToFirstAudio).toEqual({ count: 2, mean: 660, p95: 800 });
        expect(detail.latencies.stt).toEqual({ count: 2, mean: 250, p95: 300 });
        expect(detail.latencies.dialog).toEqual({ count: 2, mean: 40, p95: 50 });
      });

      it('answers a call still running, and 404 for an unknown id', async () => {
        const f6 = await callDetail('/api/calls/call-f6');
        expect(f6.call.outcome).toBe('in_progress');
        expect(f6.recording).toBeNull();
        expect(f6.latencies.endOfTurnToFirstAudio).toEqual({ count: 0, mean: null, p95: null });
        expect(await refusal('/api/calls/no-such-call', 404)).toBe('no call with id "no-such-call"');
      });
    });

    describe('GET /api/calls/:id/recording', () => {
      const wavFile = () => readFileSync(join(recordingsDir, `${seedStart(SEED[0], days).getUTCFullYear()}/call-a1.wav`));

      it('sends the whole file with its type and Accept-Ranges', async () => {
        const res = await get('/api/calls/call-a1/recording');
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('audio/wav');
        expect(res.headers.get('accept-ranges')).toBe('bytes');
        const body = Buffer.from(await res.arrayBuffer());
        expect(body.equals(wavFile())).toBe(true);
        expect(res.headers.get('content-length')).toBe(String(body.length));
        const mp3 = await get('/api/calls/call-b2/recording');
        expect(mp3.status).toBe(200);
        expect(mp3.headers.get('content-type')).toBe('audio/mpeg');
        const bytes = Buffer.from(await mp3.arrayBuffer());
        // An MPEG audio frame sync or an ID3 tag.
        expect(bytes.subarray(0, 3).toString('latin1') === 'ID3' || (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0)).toBe(true);
      });

      it('serves byte ranges: first bytes, open-ended, suffix; 416 past the end', async () => {
        const file = wavFile();
        const size = file.length;
        const first = await get('/api/calls/call-a1/recording', { headers: { range: 'bytes=0-43' } });
        expect(first.status).toBe(206);
        expect(first.headers.get('content-range')).toBe(`bytes 0-43/${size}`);
        expect(first.headers.get('content-length')).toBe('44');
        const headBytes = Buffer.from(await first.arrayBuffer());
        expect(headBytes.subarray(0, 4).toString('latin1')).toBe('RIFF');
        expect(headBytes.equals(file.subarray(0, 44))).toBe(true);

        const open = await get('/api/calls/call-a1/recording', { headers: { range: `bytes=${size - 10}-` } });
        expect(open.status).toBe(206);
        expect(open.headers.get('content-range')).toBe(`bytes ${size - 10}-${size - 1}/${size}`);
        expect(Buffer.from(await open.arrayBuffer()).equals(file.subarray(size - 10))).toBe(true);

        const suffix = await get('/api/calls/call-a1/recording', { headers: { range: 'bytes=-100' } });
        expect(suffix.status).toBe(206);
        expect(suffix.headers.get('content-range')).toBe(`bytes ${size - 100}-${size - 1}/${size}`);
        expect(Buffer.from(await suffix.arrayBuffer()).equals(file.subarray(size - 100))).toBe(true);

        const beyondEnd = await get('/api/calls/call-a1/recording', { headers: { range: `bytes=100-${size * 2}` } });
        expect(beyondEnd.status).toBe(206);
        expect(beyondEnd.headers.get('content-range')).toBe(`bytes 100-${size - 1}/${size}`);
        await beyondEnd.arrayBuffer();

        const past = await get('/api/calls/call-a1/recording', { headers: { range: `bytes=${size}-` } });
        expect(past.status).toBe(416);
        expect(past.headers.get('content-range')).toBe(`bytes */${size}`);
        expect(((await past.json()) as { message: string }).message).toContain(`${size} bytes`);

        const empty = await get('/api/calls/call-a1/recording', { headers: { range: 'bytes=-0' } });
        expect(empty.status).toBe(416);
        await empty.arrayBuffer();

        const head = await get('/api/calls/call-a1/recording', { method: 'HEAD' });
        expect(head.status).toBe(200);
        expect(head.headers.get('content-length')).toBe(String(size));
        expect(head.headers.get('accept-ranges')).toBe('bytes');
        expect((await head.arrayBuffer()).byteLength).toBe(0);

        // A stale If-Range gets the whole, current file.
        const stale = await get('/api/calls/call-a1/recording', { headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
        expect(stale.status).toBe(200);
        expect((await stale.arrayBuffer()).byteLength).toBe(size);
      });

      it('404s name what is missing: the call, its recording, the file', async () => {
        expect(await refusal('/api/calls/nope/recording', 404)).toBe('no call with id "nope"');
        expect(await refusal('/api/calls/call-d4/recording', 404)).toBe('call "call-d4" has no recording');
        const missing = await refusal('/api/calls/call-c3/recording', 404);
        expect(missing).toContain('the recording file of call "call-c3" is missing');
        expect(missing).toContain(join(recordingsDir, `${seedStart(SEED[2], days).getUTCFullYear()}/call-c3.wav`));
      });
    });

    describe('GET /api/records', () => {
      it('filters by kind, flow, call, date and field=value', async () => {
        const all = await recordPage('/api/records');
        expect(all.total).toBe(4);
        // Newest first: the records were dated one minute into their calls.
        expect(all.items.map((r: { callId: string }) => r.callId)).toEqual(['call-d4', 'call-c3', 'call-b2', 'call-a1']);
        expect((await recordPage('/api/records?kind=ticket')).total).toBe(3);
        expect((await recordPage('/api/records?kind=lead')).items[0]).toMatchObject({ callId: 'call-c3', flow: 'heating-leads', data: { name: 'Martin', postcode: '75011', problem: 'no_heating' } });
        expect((await recordPage('/api/records?flow=heating-leads')).total).toBe(1);
        expect((await recordPage('/api/records?callId=call-b2')).items[0].data).toEqual({ problem: 'billing', amount: 42 });
        expect((await recordPage('/api/records?match=problem=no_heating')).items.map((r: { callId: string }) => r.callId)).toEqual(['call-d4', 'call-c3', 'call-a1']);
        expect((await recordPage('/api/records?match=problem=no_heating&match=postcode=75011')).total).toBe(1);
        expect((await recordPage('/api/records?match=amount=42')).total).toBe(1);
        expect((await recordPage('/api/records?match=problem=no_heating&kind=ticket')).total).toBe(2);
        expect((await recordPage(`/api/records?from=${localDate(days.today)}`)).total).toBe(1);
        expect((await recordPage(`/api/records?to=${localDate(days.past)}`)).total).toBe(2);
      });

      it('pages, and refuses bad parameters', async () => {
        const first = await recordPage('/api/records?limit=3');
        expect(first.items).toHaveLength(3);
        const second = await recordPage(`/api/records?limit=3&cursor=${first.next}`);
        expect(second.items.map((r: { callId: string }) => r.callId)).toEqual(['call-a1']);
        expect(second.next).toBeUndefined();
        expect(await refusal('/api/records?match=problem', 400)).toMatch(/^match: "problem" is not field=value/);
        expect(await refusal('/api/records?match=' + encodeURIComponent("x'); drop table calls;--=1"), 400)).toMatch(/^match: .* is not a field name/);
        expect(await refusal('/api/records?limit=1000', 400)).toMatch(/^limit: /);
        const callsPage = await callPage('/api/calls?limit=1');
        expect(await refusal(`/api/records?cursor=${callsPage.next}`, 400)).toMatch(/^cursor: it belongs to the calls list/);
      });
    });

    describe('GET /api/stats', () => {
      it("defaults to today in the server's time zone and computes the figures", async () => {
        const stats = await statsOf('/api/stats');
        expect(stats.timeZone).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
        expect(stats.from).toBe(days.today.toISOString());
        expect(stats.to).toBe(new Date(days.today.getFullYear(), days.today.getMonth(), days.today.getDate() + 1).toISOString());
        // Today: d4 (completed, negative), e5 (transferred, positive), f6 (running).
        expect(stats).toMatchObject({
          calls: 3,
          meanDurationMs: (90_000 + 45_000) / 2,
          sentiment: { rated: 2, negative: 1, unhappyShare: 0.5 },
          outcomes: { completed: 1, transferred: 1, abandoned: 0, failed: 0, interrupted: 0, in_progress: 1 },
          transfers: 1,
          problems: { byKind: [{ kind: 'ticket', count: 1 }], field: 'problem', byValue: [{ value: 'no_heating', count: 1 }] },
          turnLatency: { turns: 3, meanMs: (400 + 700 + 1000) / 3 },
        });
        expect(await statsOf(`/api/stats?from=${localDate(days.today)}`)).toEqual(stats);
      });

      it('computes the figures over a range', async () => {
        const stats = await statsOf(`/api/stats?from=${localDate(days.past)}&to=${localDate(new Date(days.past.getFullYear(), days.past.getMonth(), days.past.getDate() + 1))}`);
        // a1 (completed, negative), b2 (transferred, positive), c3 (completed with a lead, neutral).
        expect(stats).toMatchObject({
          calls: 3,
          meanDurationMs: (120_000 + 60_000 + 30_000) / 3,
          sentiment: { rated: 3, negative: 1 },
          outcomes: { completed: 2, transferred: 1, abandoned: 0, in_progress: 0 },
          transfers: 1,
          problems: {
            byKind: [
              { kind: 'ticket', count: 2 },
              { kind: 'lead', count: 1 },
            ],
            byValue: [
              { value: 'no_heating', count: 2 },
              { value: 'billing', count: 1 },
            ],
          },
          turnLatency: { turns: 3, meanMs: (520 + 800 + 600) / 3 },
        });
        expect(stats.sentiment.unhappyShare).toBeCloseTo(1 / 3, 10);
        const byName = await statsOf(`/api/stats?from=${localDate(days.past)}&to=${localDate(days.today)}&problemField=name`);
        expect(byName.problems.byValue).toEqual([
          { value: 'Dupont, "Jo"', count: 1 },
          { value: 'Martin', count: 1 },
        ]);
        const empty = await statsOf(`/api/stats?from=${localDate(new Date(days.old.getTime() - 86_400_000 * 30))}&to=${localDate(new Date(days.old.getTime() - 86_400_000 * 20))}`);
        expect(empty).toMatchObject({ calls: 0, meanDurationMs: null, sentiment: { rated: 0, negative: 0, unhappyShare: null }, turnLatency: { turns: 0, meanMs: null } });
        expect(await refusal('/api/stats?from=soon', 400)).toMatch(/^from: /);
        expect(await refusal('/api/stats?problemField=' + encodeURIComponent('a b'), 400)).toMatch(/^problemField: /);
      });
    });

    describe('CSV export', () => {
      it('exports calls as RFC 4180 CSV with the filters of the list', async () => {
        const res = await get('/api/calls.csv?flow=heating-leads');
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/csv; charset=utf-8/);
        expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="calls-.*\.csv"$/);
        const text = await res.text();
        expect(text.endsWith('\r\n')).toBe(true);
        const rows = parseCsv(text);
        expect(rows[0].slice(0, 4)).toEqual(['id', 'started_at', 'ended_at', 'duration_ms']);
        expect(rows).toHaveLength(2);
        const row = Object.fromEntries(rows[0].map((h, i) => [h, rows[1][i]]));
        expect(row).toMatchObject({ id: 'call-c3', caller_id: '', outcome: 'completed', end_detail: 'hung up, "early"', duration_ms: '30000', has_recording: 'true' });
        expect(text).toContain(',"hung up, ""early""",');

        const all = parseCsv(await (await get('/api/calls.csv')).text());
        expect(all.slice(1).map((r) => r[0])).toEqual(byRecency(SEED));
        const bom = await (await get('/api/calls.csv?bom=true&flow=heating-leads')).arrayBuffer();
        expect(Buffer.from(bom).subarray(0, 3)).toEqual(Buffer.from([0xef, 0xbb, 0xbf]));
        expect(await refusal('/api/calls.csv?outcome=lost', 400)).toMatch(/^outcome: /);
        expect(await refusal('/api/calls.csv?q=' + encodeURIComponent('?!'), 400)).toMatch(/^q: /);
      });

      it('streams a result larger than one query batch, in order, each row once', async () => {
        const calls: string[] = [];
        for await (const c of iterateCalls(store.db, {}, 4)) calls.push(c.id);
        expect(calls).toEqual(byRecency(SEED));
        const records: string[] = [];
        for await (const r of iterateRecords(store.db, {}, 1)) records.push(r.callId);
        expect(records).toEqual(['call-d4', 'call-c3', 'call-b2', 'call-a1']);
      });

      it('exports records with one column per data field, quoting commas, quotes and line breaks', async () => {
        const text = await (await get('/api/records.csv?kind=ticket')).text();
        const rows = parseCsv(text);
        expect(rows[0]).toEqual(['id', 'call_id', 'created_at', 'flow', 'kind', 'amount', 'name', 'note', 'problem']);
        const a1 = rows.find((r) => r[1] === 'call-a1') as string[];
        expect(a1.slice(5)).toEqual(['', 'Dupont, "Jo"', 'line one\r\nline two', 'no_heating']);
        expect(text).toContain(',"Dupont, ""Jo""","line one\r\nline two",no_heating\r\n');
        const b2 = rows.find((r) => r[1] === 'call-b2') as string[];
        expect(b2.slice(5)).toEqual(['42', '', '', 'billing']);
        expect(rows).toHaveLength(4);
        expect(await refusal('/api/records.csv?match=nope', 400)).toMatch(/^match: /);
      });
    });

    describe('access', () => {
      const call = (server: Server, path: string, headers: Record<string, string> = {}) => fetch(server.url + path, { headers });

      it('with an admin token: the admin token opens the operator API, the speech token does not', async () => {
        const none = await call(guarded, '/api/calls');
        expect(none.status).toBe(401);
        expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
        expect(((await none.json()) as { message: string }).message).toMatch(/Authorization: Bearer <adminToken>.*server\.adminToken/);
        const speech = await call(guarded, '/api/calls', { authorization: 'Bearer speech-secret' });
        expect(speech.status).toBe(401);
        expect(((await speech.json()) as { message: string }).message).toMatch(/not the admin token/);
        for (const path of ['/api/calls', '/api/calls/call-a1', '/api/records', '/api/stats', '/api/calls.csv', '/api/records.csv', '/api/calls/call-a1/recording']) {
          const res = await call(guarded, path, { authorization: 'Bearer admin-secret' });
          expect(res.status, path).toBe(200);
          await res.arrayBuffer();
        }
        // The speech API keeps its own token.
        expect((await call(guarded, '/api/stt/info', { authorization: 'Bearer admin-secret' })).status).toBe(401);
        expect((await call(guarded, '/api/stt/info', { authorization: 'Bearer speech-secret' })).status).toBe(200);
      });

      it('hands out a signed recording link that works without the header, for that call only, until it expires', async () => {
        const detail = (await (await call(guarded, '/api/calls/call-a1', { authorization: 'Bearer admin-secret' })).json()) as { recording: { url: string } };
        const link = detail.recording.url;
        expect(link).toMatch(/^\/api\/calls\/call-a1\/recording\?exp=\d+&sig=[\w-]+$/);
        const played = await call(guarded, link, { range: 'bytes=0-3' });
        expect(played.status).toBe(206);
        expect(Buffer.from(await played.arrayBuffer()).toString('latin1')).toBe('RIFF');
        const sig = new URL(link, guarded.url).searchParams.get('sig') as string;
        const exp = Number(new URL(link, guarded.url).searchParams.get('exp'));
        expect((await call(guarded, `/api/calls/call-b2/recording?exp=${exp}&sig=${sig}`)).status).toBe(401);
        expect((await call(guarded, `/api/calls/call-a1/recording?exp=${exp + 1}&sig=${sig}`)).status).toBe(401);
        expect((await call(guarded, `/api/calls/call-a1/recording?exp=1&sig=${sig}`)).status).toBe(401);
        // The link opens the recording only, not the call.
        expect((await call(guarded, `/api/calls/call-a1?exp=${exp}&sig=${sig}`)).status).toBe(401);
      });

      it('without an admin token: open on a loopback address, 403 naming the setting elsewhere', async () => {
        expect((await get('/api/stats')).status).toBe(200);
        const wide = await serve(store, recordingsDir, engines, {}, '0.0.0.0');
        try {
          const res = await fetch(wide.url + '/api/calls');
          expect(res.status).toBe(403);
          const body = (await res.json()) as { error: string; message: string };
          expect(body.error).toBe('forbidden');
          expect(body.message).toMatch(/loopback address.*listens on 0\.0\.0\.0.*server\.adminToken \(PALABRE_SERVER_ADMIN_TOKEN\)/);
          expect((await fetch(wide.url + '/api/calls/call-a1/recording')).status).toBe(403);
          expect((await fetch(wide.url + '/health')).status).toBe(200);
        } finally {
          await wide.app.close();
        }
      });

      it('publishes every operator route with its schema at /docs', async () => {
        const spec = (await (await get('/docs/json')).json()) as { paths: Record<string, { get?: { parameters?: Array<{ name: string }> } }> };
        for (const path of ['/api/calls', '/api/calls/{id}', '/api/calls/{id}/recording', '/api/records', '/api/stats', '/api/calls.csv', '/api/records.csv']) {
          expect(spec.paths[path]?.get, path).toBeDefined();
        }
        expect(spec.paths['/api/calls'].get?.parameters?.map((p) => p.name)).toEqual(expect.arrayContaining(['from', 'to', 'flow', 'outcome', 'caller', 'q', 'limit', 'cursor']));
      });
    });
  });
}
