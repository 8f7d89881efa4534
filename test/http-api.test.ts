/**
 * The speech HTTP API over real HTTP on loopback, with real engines:
 * every endpoint, each bad input, and the server still healthy afterwards.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeG711 } from '../src/audio/g711.js';
import { encodeSlinBe, encodeSlinLe } from '../src/audio/slin.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { rmsDbfs } from '../src/audio/frame.js';
import { ffmpegConvert, fliteWav, multipartBody, startServer, type TestServer, wordErrorRate } from './support/server.js';

const SENTENCE = 'please call me back tomorrow morning';
let server: TestServer;
let speech: Buffer;
// Everything the server writes to a temp dir lands here. Libraries leave a few files once per process
// (onnxruntime's debug log, tsx's compile cache for worker threads): those are snapshotted after a warm-up,
// and no request may add to them.
let tmpBaseline: string[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'palabre-http-tmp-'));
const previousTmp = process.env.TMPDIR;

beforeAll(async () => {
  speech = fliteWav(SENTENCE);
  process.env.TMPDIR = scratch;
  server = await startServer({ server: { maxUploadBytes: 2 * 1024 * 1024 } }, { kinds: ['stt', 'tts', 'vad', 'denoise'] });
  await server.engines.vad?.createStream().process({ samples: new Int16Array(512), sampleRate: 16000 });
  tmpBaseline = readdirSync(scratch).sort();
});

afterAll(async () => {
  await server?.close();
  process.env.TMPDIR = previousTmp;
  rmSync(scratch, { recursive: true, force: true });
});

async function transcribeForm(bytes: Uint8Array, fields: Record<string, string> = {}, name = 'speech.wav', type = 'audio/wav') {
  const res = await fetch(`${server.url}/api/stt/transcribe`, { method: 'POST', body: multipartBody(fields, { field: 'file', name, bytes, type }) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('POST /api/stt/transcribe', () => {
  it('transcribes a WAV upload with segments, duration, latency and word count', async () => {
    const { status, body } = await transcribeForm(speech, { language: 'en' });
    expect(status).toBe(200);
    expect(wordErrorRate(SENTENCE, body.text as string)).toBeLessThanOrEqual(0.2);
    expect(body.language).toBe('en');
    expect(body.duration).toBeGreaterThan(1.5);
    expect(body.latency).toBeGreaterThan(0);
    expect(body.word_count).toBe((body.text as string).split(/\s+/).length);
    expect(Array.isArray(body.segments)).toBe(true);
    expect((body.segments as unknown[]).length).toBeGreaterThan(0);
    expect(body.engine).toBe('pocketsphinx');
  });

  it('decodes mp3, ogg/opus, webm and m4a uploads through ffmpeg, sniffing the format from the bytes', async () => {
    const cases: Array<[string, string[]]> = [
      ['mp3', []],
      ['ogg', ['-c:a', 'libopus']],
      ['webm', ['-c:a', 'libopus']],
      ['ipod', ['-c:a', 'aac', '-movflags', 'frag_keyframe+empty_moov']],
    ];
    for (const [fmt, args] of cases) {
      const bytes = ffmpegConvert(speech, fmt, args);
      // The declared type lies on purpose: the bytes decide.
      const { status, body } = await transcribeForm(bytes, {}, `upload.${fmt}`, 'audio/wav');
      expect(status, `${fmt}: ${JSON.stringify(body)}`).toBe(200);
      expect(wordErrorRate(SENTENCE, body.text as string), fmt).toBeLessThanOrEqual(0.34);
    }
  });

  it('answers 415 naming ffmpeg when a compressed upload arrives and ffmpeg is missing', async () => {
    const noFfmpeg = await startServer({ audio: { ffmpegPath: '/nonexistent/ffmpeg' } }, {}, server.engines);
    try {
      const form = multipartBody({}, { field: 'file', name: 'a.mp3', bytes: ffmpegConvert(speech, 'mp3') });
      const res = await fetch(`${noFfmpeg.url}/api/stt/transcribe`, { method: 'POST', body: form });
      const body = (await res.json()) as { error: string; message: string };
      expect(res.status).toBe(415);
      expect(body.error).toBe('unsupported_media');
      expect(body.message).toMatch(/ffmpeg/);
    } finally {
      await noFfmpeg.close();
    }
  });

  it('refuses bad uploads with a 4xx naming the problem', async () => {
    const rate = 16000;
    const silence = encodeWav({ samples: new Int16Array(rate), sampleRate: rate });
    const tooShort = encodeWav({ samples: decodeWav(speech).samples.slice(0, rate / 20), sampleRate: rate });
    const truncated = speech.subarray(0, 30);
    const lying = Buffer.from(speech);
    lying.writeUInt32LE(10_000_000, 40); // data chunk claims far more than the file holds
    const text = Buffer.from('this is not audio at all, just some text pretending to be a wav file');
    const cases: Array<[string, Uint8Array, number, string, RegExp]> = [
      ['empty file', new Uint8Array(0), 400, 'bad_audio', /empty/],
      ['silence', silence, 422, 'audio_silent', /silent/],
      ['50 ms', tooShort, 422, 'audio_too_short', /ms/],
      ['truncated header', truncated, 400, 'bad_audio', /./],
      ['lying data size', lying, 400, 'bad_audio', /bytes of data/],
      ['text file', text, 415, 'unsupported_media', /./],
    ];
    for (const [what, bytes, status, code, message] of cases) {
      const res = await transcribeForm(bytes);
      expect(res.status, `${what}: ${JSON.stringify(res.body)}`).toBe(status);
      expect(res.body.error, what).toBe(code);
      expect(res.body.message as string, what).toMatch(message);
    }
  });

  it('answers 413 beyond the upload limit, 415 without multipart, 400 for a bad field or a missing file', async () => {
    const big = new Uint8Array(3 * 1024 * 1024);
    expect((await transcribeForm(big)).status).toBe(413);
    const notMultipart = await fetch(`${server.url}/api/stt/transcribe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(notMultipart.status).toBe(415);
    const badLang = await transcribeForm(speech, { language: 'english!!' });
    expect(badLang.status).toBe(400);
    expect(badLang.body.message).toMatch(/language/);
    const noFile = await fetch(`${server.url}/api/stt/transcribe`, { method: 'POST', body: multipartBody({ language: 'en' }) });
    expect(noFile.status).toBe(400);
    expect(((await noFile.json()) as { message: string }).message).toMatch(/"file"/);
    const badEngine = await transcribeForm(speech, { engine: 'nope' });
    expect(badEngine.status).toBe(400);
    const badStep = await transcribeForm(speech, { preprocess: 'sharpen' });
    expect(badStep.status).toBe(400);
    expect(badStep.body.message).toMatch(/sharpen/);
  });

  it('applies preprocessing steps on request and reports them', async () => {
    const { status, body } = await transcribeForm(speech, { preprocess: 'denoise,normalize,trim,lowpass:3400' });
    expect(status).toBe(200);
    expect(body.preprocess).toEqual(['lowpass:3400', 'denoise', 'trim', 'normalize']);
    expect(wordErrorRate(SENTENCE, body.text as string)).toBeLessThanOrEqual(0.34);
  });
});

describe('POST /api/stt/transcribe-stream', () => {
  it('takes a raw WAV body, big-endian audio/L16 and little-endian audio/pcm', async () => {
    const pcm = decodeWav(speech);
    const bodies: Array<[string, Uint8Array]> = [
      ['audio/wav', speech],
      [`audio/L16;rate=${pcm.sampleRate}`, encodeSlinBe(pcm.samples)],
      [`audio/pcm;rate=${pcm.sampleRate}`, encodeSlinLe(pcm.samples)],
    ];
    for (const [type, body] of bodies) {
      const res = await fetch(`${server.url}/api/stt/transcribe-stream?language=en`, { method: 'POST', headers: { 'content-type': type }, body });
      const json = (await res.json()) as { text: string };
      expect(res.status, `${type}: ${JSON.stringify(json)}`).toBe(200);
      expect(wordErrorRate(SENTENCE, json.text), type).toBeLessThanOrEqual(0.2);
    }
  });

  it('refuses L16 without a rate, an odd byte count, and a JSON body', async () => {
    const noRate = await fetch(`${server.url}/api/stt/transcribe-stream`, { method: 'POST', headers: { 'content-type': 'audio/L16' }, body: new Uint8Array(3200) });
    expect(noRate.status).toBe(400);
    expect(((await noRate.json()) as { message: string }).message).toMatch(/rate/);
    const odd = await fetch(`${server.url}/api/stt/transcribe-stream`, { method: 'POST', headers: { 'content-type': 'audio/L16;rate=16000' }, body: new Uint8Array(3201) });
    expect(odd.status).toBe(400);
    const json = await fetch(`${server.url}/api/stt/transcribe-stream`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(json.status).toBe(415);
  });
});

describe('GET /api/stt/info and /api/tts/info', () => {
  it('lists engines, languages, voices, styles and formats', async () => {
    const stt = (await (await fetch(`${server.url}/api/stt/info`)).json()) as { default: string; engines: Array<{ name: string; loaded: boolean; languages: string[] }> };
    expect(stt.default).toBe('pocketsphinx');
    expect(stt.engines.find((e) => e.name === 'pocketsphinx')).toMatchObject({ loaded: true, languages: ['en'] });
    const sherpa = stt.engines.find((e) => e.name === 'sherpa');
    expect(sherpa?.loaded).toBe(false);
    const tts = (await (await fetch(`${server.url}/api/tts/info`)).json()) as { styles: string[]; formats: string[]; engines: Array<{ name: string; voices: Array<{ id: string; language: string }> }> };
    expect(tts.styles).toEqual(expect.arrayContaining(['encouragement', 'empathie', 'neutre', 'enthousiasme_modere', 'curiosite', 'reflexion']));
    expect(tts.formats).toEqual(['wav', 'pcm', 'ulaw', 'alaw']);
    const espeak = tts.engines.find((e) => e.name === 'espeak');
    expect(espeak?.voices.some((v) => v.language.startsWith('fr'))).toBe(true);
    expect(espeak?.voices.some((v) => v.language.startsWith('en'))).toBe(true);
  });
});

describe('POST /api/tts/synthesize', () => {
  async function synth(body: Record<string, unknown>) {
    return fetch(`${server.url}/api/tts/synthesize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  }

  it('returns WAV with X-Duration and X-Latency, in French by default', async () => {
    const res = await synth({ text: 'Bonjour, je vous écoute.' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('audio/wav');
    const wav = decodeWav(new Uint8Array(await res.arrayBuffer()));
    const duration = Number(res.headers.get('x-duration'));
    expect(duration).toBeGreaterThan(0.5);
    expect(Math.abs(duration - wav.samples.length / wav.sampleRate)).toBeLessThan(0.01);
    expect(Number(res.headers.get('x-latency'))).toBeGreaterThan(0);
    expect(res.headers.get('x-voice')).toMatch(/fr/);
    expect(rmsDbfs(wav.samples)).toBeGreaterThan(-40);
  });

  it('returns raw pcm, µ-law and A-law at the asked rate, and the second request hits the cache', async () => {
    const pcm = await synth({ text: 'Hello there.', language: 'en', format: 'pcm', sample_rate: 24000 });
    expect(pcm.status).toBe(200);
    expect(pcm.headers.get('x-sample-rate')).toBe('24000');
    const pcmBytes = new Uint8Array(await pcm.arrayBuffer());
    expect(pcmBytes.length / 2 / 24000).toBeCloseTo(Number(pcm.headers.get('x-duration')), 2);
    for (const format of ['ulaw', 'alaw'] as const) {
      const res = await synth({ text: 'Hello there.', language: 'en', format, style: 'empathie' });
      expect(res.status).toBe(200);
      const bytes = new Uint8Array(await res.arrayBuffer());
      const samples = decodeG711(format, bytes);
      expect(rmsDbfs(samples)).toBeGreaterThan(-40);
      expect(bytes.length / 8000).toBeCloseTo(Number(res.headers.get('x-duration')), 2);
    }
    const again = await synth({ text: 'Hello there.', language: 'en', format: 'ulaw', style: 'empathie' });
    expect(again.headers.get('x-cache')).toBe('hit');
  });

  it('refuses empty text, unknown style, µ-law at 16 kHz, unknown voice and unknown fields', async () => {
    const cases: Array<[Record<string, unknown>, number, RegExp]> = [
      [{ text: '' }, 400, /text/],
      [{ text: '   ' }, 400, /empty/],
      [{ text: 'hi', style: 'furious' }, 400, /style/],
      [{ text: 'hi', format: 'ulaw', sample_rate: 16000 }, 400, /8000/],
      [{ text: 'hi', voice: 'klingon-xx' }, 400, /voice/],
      [{ text: 'hi', format: 'mp3' }, 400, /format/],
      [{ text: 'x'.repeat(6000) }, 400, /text/],
    ];
    for (const [body, status, message] of cases) {
      const res = await synth(body);
      const json = (await res.json()) as { message: string };
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(status);
      expect(json.message, JSON.stringify(body).slice(0, 60)).toMatch(message);
    }
    const notJson = await fetch(`${server.url}/api/tts/synthesize`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"text": ' });
    expect(notJson.status).toBe(400);
  });
});

describe('POST /clean-audio', () => {
  function noisySpeech(): Int16Array {
    const pcm = decodeWav(speech).samples;
    let seed = 7;
    const out = new Int16Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      out[i] = Math.max(-32768, Math.min(32767, pcm[i] + ((seed / 0x7fffffff) * 2 - 1) * 2000));
    }
    return out;
  }

  it('returns cleaned audio of the same length and encoding, with timing, and counts it', async () => {
    const samples = noisySpeech();
    const before = (await (await fetch(`${server.url}/clean-audio/stats`)).json()) as { processed: number };
    const res = await fetch(`${server.url}/clean-audio`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ audio_payload: Buffer.from(encodeSlinLe(samples)).toString('base64'), sample_rate: 16000, encoding: 'pcm16' }),
    });
    const body = (await res.json()) as { audio_payload: string; encoding: string; fallback: boolean; denoised: boolean; processing_time_ms: number };
    expect(res.status).toBe(200);
    expect(body).toMatchObject({ encoding: 'pcm16', fallback: false, denoised: true });
    expect(body.processing_time_ms).toBeGreaterThan(0);
    const cleaned = Buffer.from(body.audio_payload, 'base64');
    expect(cleaned.length).toBe(samples.length * 2);
    const stats = (await (await fetch(`${server.url}/clean-audio/stats`)).json()) as { processed: number; mean_processing_ms: number; engine: string };
    expect(stats.processed).toBe(before.processed + 1);
    expect(stats.engine).toBe('rnnoise');
    expect(stats.mean_processing_ms).toBeGreaterThan(0);
  });

  it('keeps µ-law in µ-law and refuses bad payloads with 400', async () => {
    const ulaw = new Uint8Array(8000).fill(0xff);
    const ok = await fetch(`${server.url}/clean-audio`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ audio_payload: Buffer.from(ulaw).toString('base64'), sample_rate: 8000, encoding: 'mulaw' }),
    });
    expect(ok.status).toBe(200);
    expect(Buffer.from(((await ok.json()) as { audio_payload: string }).audio_payload, 'base64').length).toBe(8000);
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ audio_payload: '!!!not base64!!!', sample_rate: 16000 }, /base64/],
      [{ audio_payload: Buffer.from([1, 2, 3]).toString('base64'), sample_rate: 16000, encoding: 'pcm16' }, /odd|bytes/],
      [{ audio_payload: 'AAAA', sample_rate: 11025 }, /sample_rate/],
      [{ audio_payload: 'AAAA', sample_rate: 16000, encoding: 'mulaw' }, /8000/],
      [{ sample_rate: 16000 }, /audio_payload/],
    ];
    for (const [body, message] of cases) {
      const res = await fetch(`${server.url}/clean-audio`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(message);
    }
  });
});

describe('legacy routes', () => {
  it('POST /transcribe answers {text, processing_time, filename}', async () => {
    const res = await fetch(`${server.url}/transcribe`, { method: 'POST', body: multipartBody({ language: 'en' }, { field: 'audio', name: 'call-42.wav', bytes: speech }) });
    const body = (await res.json()) as { text: string; processing_time: number; filename: string };
    expect(res.status).toBe(200);
    expect(Object.keys(body).sort()).toEqual(['filename', 'processing_time', 'text']);
    expect(body.filename).toBe('call-42.wav');
    expect(wordErrorRate(SENTENCE, body.text)).toBeLessThanOrEqual(0.2);
  });

  it('POST /whisper answers {transcription} and refuses bad base64', async () => {
    const res = await fetch(`${server.url}/whisper`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ audio: speech.toString('base64'), filename: 'a.wav', connection_id: 'c1' }),
    });
    const body = (await res.json()) as { transcription: string };
    expect(res.status).toBe(200);
    expect(Object.keys(body)).toEqual(['transcription']);
    expect(wordErrorRate(SENTENCE, body.transcription)).toBeLessThanOrEqual(0.2);
    const bad = await fetch(`${server.url}/whisper`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ audio: '%%%' }) });
    expect(bad.status).toBe(400);
  });
});

describe('operations', () => {
  it('GET /health lists engines and why one did not load; /metrics exposes histograms and bad-input counters', async () => {
    const health = (await (await fetch(`${server.url}/health`)).json()) as { status: string; version: string; engines: Array<{ kind: string; name: string; loaded: boolean; reason?: string }> };
    expect(health.status).toBe('ok');
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(health.engines.find((e) => e.kind === 'stt' && e.name === 'pocketsphinx')?.loaded).toBe(true);
    expect(health.engines.find((e) => e.kind === 'stt' && e.name === 'sherpa')?.reason).toMatch(/configured/);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/palabre_http_request_duration_seconds_bucket\{.*route="\/api\/stt\/transcribe"/);
    expect(metrics).toMatch(/palabre_engine_duration_seconds_count\{kind="stt",engine="pocketsphinx",op="transcribe"\} [1-9]/);
    expect(metrics).toMatch(/palabre_bad_input_total\{route="\/api\/stt\/transcribe",code="audio_silent"\} [1-9]/);
  });

  it('serves the OpenAPI document at /docs/json', async () => {
    const doc = (await (await fetch(`${server.url}/docs/json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/api/stt/transcribe', '/api/stt/transcribe-stream', '/api/tts/synthesize', '/clean-audio', '/transcribe', '/whisper', '/health']) {
      expect(Object.keys(doc.paths)).toContain(path);
    }
  });

  it('is still healthy and correct after all the bad input, and left no temporary file', async () => {
    const res = await fetch(`${server.url}/health`);
    expect(res.status).toBe(200);
    const { status, body } = await transcribeForm(speech);
    expect(status).toBe(200);
    expect(wordErrorRate(SENTENCE, body.text as string)).toBeLessThanOrEqual(0.2);
    expect(readdirSync(scratch).sort()).toEqual(tmpBaseline);
  });
});

describe('access control', () => {
  it('requires the bearer token on API routes but not on /health, and sends CORS headers only for configured origins', async () => {
    const guarded = await startServer({ server: { authToken: 's3cret-token', corsOrigins: ['https://ops.example.org'] } }, {}, server.engines);
    try {
      const open = await fetch(`${guarded.url}/health`);
      expect(open.status).toBe(200);
      // The demo page's files are public (the page asks for the token); its API is not.
      for (const page of ['/', '/app.js', '/style.css']) expect((await fetch(`${guarded.url}${page}`)).status, page).toBe(200);
      expect((await fetch(`${guarded.url}/api/session/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"flow":"support-desk","language":"en"}' })).status).toBe(401);
      expect((await fetch(`${guarded.url}/nope.js`)).status).toBe(401);
      // Twilio cannot send a bearer token: its webhook is authenticated by its signature (twilio.authToken).
      expect((await fetch(`${guarded.url}/twilio/voice`, { method: 'POST' })).status).toBe(200);
      const denied = await fetch(`${guarded.url}/api/stt/info`);
      expect(denied.status).toBe(401);
      expect(((await denied.json()) as { error: string }).error).toBe('unauthorized');
      const wrong = await fetch(`${guarded.url}/api/stt/info`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const allowed = await fetch(`${guarded.url}/api/stt/info`, { headers: { authorization: 'Bearer s3cret-token', origin: 'https://ops.example.org' } });
      expect(allowed.status).toBe(200);
      expect(allowed.headers.get('access-control-allow-origin')).toBe('https://ops.example.org');
      const other = await fetch(`${guarded.url}/health`, { headers: { origin: 'https://evil.example.com' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await guarded.close();
    }
    const defaults = await fetch(`${server.url}/health`, { headers: { origin: 'https://ops.example.org' } });
    expect(defaults.headers.get('access-control-allow-origin')).toBeNull();
  });
});
