/**
 * The `palabre` command line as a user runs it: a real subprocess per command, real engines,
 * real audio files, and the exit code, standard output and standard error it leaves.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { rmsDbfs } from '../src/audio/frame.js';
import { decodeG711 } from '../src/audio/g711.js';
import { decodeWav, encodeWav } from '../src/audio/wav.js';
import { settingLeaves } from '../src/config.js';
import { wordErrorRate } from '../src/engines/stt/wer.js';
import { expectOneLineError, palabre, type Run, runAll, seededNoise, start } from './support/cli.js';

const SENTENCE = 'please call me back tomorrow morning';

let dir: string;
const file = (name: string) => join(dir, name);
let speechSamples: Int16Array;
let speechRate: number;
const LEAD_IN_S = 1;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-cli-'));
  execFileSync('flite', ['-voice', 'slt', '-t', SENTENCE, '-o', file('speech.wav')]);
  const speech = readFileSync(file('speech.wav'));
  writeFileSync(file('truncated.wav'), speech.subarray(0, 3000));
  const decoded = decodeWav(speech);
  speechSamples = decoded.samples;
  speechRate = decoded.sampleRate;
  // One second of noise alone before the speech: the stretch where noise reduction is measured.
  const lead = LEAD_IN_S * speechRate;
  const noisy = new Int16Array(lead + speechSamples.length + speechRate / 4);
  noisy.set(speechSamples, lead);
  const noise = seededNoise(noisy.length, 400, 42);
  for (let i = 0; i < noisy.length; i++) noisy[i] = Math.max(-32768, Math.min(32767, noisy[i] + noise[i]));
  writeFileSync(file('noisy.wav'), encodeWav({ samples: noisy, sampleRate: speechRate }));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('help and usage errors', () => {
  const commands: Record<string, string[]> = {
    '': ['--config', '--log-level', '--version', 'serve', 'transcribe', 'say', 'clean', 'models', 'flows', 'chat', 'simulate', 'doctor', 'config'],
    serve: ['--port', '--host'],
    transcribe: ['<file>', '--language', '--engine', '--hints', '--grammar', '--preprocess', '--json'],
    say: ['<text>', '--output', '--voice', '--language', '--style', '--format', '--rate', '--engine', 'empathie', 'ulaw'],
    clean: ['<in>', '--output'],
    models: ['list', 'pull', 'rm'],
    flows: ['schema', 'check', 'list'],
    doctor: ['--json'],
    config: ['--json', '--docs'],
  };
  let runs: Record<string, Run>;

  beforeAll(async () => {
    const jobs: Record<string, () => Promise<Run>> = {};
    for (const name of Object.keys(commands)) jobs[name] = () => palabre(name ? [name, '--help'] : ['--help']);
    jobs.unknownCommand = () => palabre(['frobnicate']);
    jobs.typo = () => palabre(['trancribe', 'x.wav']);
    jobs.unknownOption = () => palabre(['say', 'hi', '-o', file('never.wav'), '--loud']);
    jobs.globalOption = () => palabre(['--bogus', 'config']);
    jobs.version = () => palabre(['--version']);
    runs = await runAll(jobs, 4);
  });

  it('--help of the program and of every command exits 0 and names its options', () => {
    for (const [name, words] of Object.entries(commands)) {
      const run = runs[name];
      expect(run.code, `${name} --help: ${run.err}`).toBe(0);
      expect(run.out).toContain(`Usage: palabre${name ? ` ${name}` : ''} `);
      for (const word of words) expect(run.out, `palabre ${name} --help names ${word}`).toContain(word);
    }
    expect(runs.version.code).toBe(0);
    expect(runs.version.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('an unknown command or option exits 2 with a one-line error saying where help is', () => {
    expectOneLineError(runs.unknownCommand, /^palabre: unknown command 'frobnicate' \(see "palabre --help"\)$/);
    expectOneLineError(runs.typo, /^palabre: unknown command 'trancribe' \(Did you mean transcribe\?\)/);
    expectOneLineError(runs.unknownOption, /^palabre: unknown option '--loud' \(see "palabre say --help"\)$/);
    expectOneLineError(runs.globalOption, /^palabre: unknown option '--bogus'/);
    for (const key of ['unknownCommand', 'typo', 'unknownOption', 'globalOption']) {
      expect(runs[key].code, key).toBe(2);
      expect(runs[key].out, key).toBe('');
    }
  });
});

describe('palabre say', () => {
  let runs: Record<'flite' | 'ulaw' | 'style' | 'stdout' | 'badStyle' | 'badFormat' | 'badRate' | 'badDir', Run>;

  beforeAll(async () => {
    const text = 'Hello, how are you today?';
    runs = await runAll({
      flite: () => palabre(['say', text, '-o', file('say.wav'), '--language', 'en', '--engine', 'flite']),
      ulaw: () => palabre(['say', text, '-o', file('say.ulaw'), '--language', 'en', '--format', 'ulaw']),
      style: () => palabre(['say', text, '-o', file('say-empathie.wav'), '--language', 'en', '--style', 'empathie']),
      stdout: () => palabre(['say', text, '-o', '-', '--engine', 'flite', '--voice', 'kal16']),
      badStyle: () => palabre(['say', text, '-o', file('bad.wav'), '--style', 'angry']),
      badFormat: () => palabre(['say', text, '-o', file('bad.wav'), '--format', 'mp3']),
      badRate: () => palabre(['say', text, '-o', file('bad.wav'), '--rate', 'fast']),
      badDir: () => palabre(['say', text, '-o', file('no/such/dir/x.wav'), '--language', 'en']),
    });
  });

  it('writes a valid, audible WAV of plausible length with flite', () => {
    expect(runs.flite.code, runs.flite.err).toBe(0);
    const wav = decodeWav(readFileSync(file('say.wav')));
    expect(wav.sampleRate).toBe(16000);
    expect(wav.channels).toBe(1);
    const seconds = wav.samples.length / wav.sampleRate;
    expect(seconds).toBeGreaterThan(1);
    expect(seconds).toBeLessThan(4);
    expect(rmsDbfs(wav.samples)).toBeGreaterThan(-35);
    expect(runs.flite.err).toMatch(/say\.wav: \d+\.\d+ s of wav at 16000 Hz \(flite, voice slt/);
    expect(runs.flite.out).toBe('');
  });

  it('--format ulaw writes headerless µ-law bytes at 8 kHz', () => {
    expect(runs.ulaw.code, runs.ulaw.err).toBe(0);
    const bytes = readFileSync(file('say.ulaw'));
    expect(bytes.subarray(0, 4).toString('latin1')).not.toBe('RIFF');
    const seconds = Number(/say\.ulaw: (\d+\.\d+) s of ulaw at 8000 Hz/.exec(runs.ulaw.err)?.[1]);
    expect(seconds).toBeGreaterThan(0.8);
    // One byte per sample at 8 kHz: the length and the reported duration agree.
    expect(Math.abs(bytes.length / 8000 - seconds)).toBeLessThan(0.02);
    expect(rmsDbfs(decodeG711('ulaw', bytes))).toBeGreaterThan(-35);
  });

  it('--style empathie speaks slower and softer than the neutral voice', () => {
    expect(runs.style.code, runs.style.err).toBe(0);
    const styled = decodeWav(readFileSync(file('say-empathie.wav')));
    const neutral = decodeG711('ulaw', readFileSync(file('say.ulaw')));
    const ratio = styled.samples.length / styled.sampleRate / (neutral.length / 8000);
    expect(ratio).toBeGreaterThan(1.08);
    expect(rmsDbfs(styled.samples)).toBeLessThan(rmsDbfs(neutral) - 1.5);
  });

  it('-o - writes the audio, and nothing else, to standard output', () => {
    expect(runs.stdout.code, runs.stdout.err).toBe(0);
    const wav = decodeWav(runs.stdout.stdout);
    expect(wav.sampleRate).toBe(16000);
    expect(wav.samples.length / 16000).toBeGreaterThan(1);
    expect(rmsDbfs(wav.samples)).toBeGreaterThan(-35);
  });

  it('refuses a bad style, format, rate or output directory with a clear one-line message', () => {
    expectOneLineError(runs.badStyle, /argument 'angry' is invalid\. Allowed choices are neutre, encouragement, empathie/);
    expectOneLineError(runs.badFormat, /argument 'mp3' is invalid\. Allowed choices are wav, pcm, ulaw, alaw/);
    expectOneLineError(runs.badRate, /option '-r, --rate <hz>' argument 'fast' is invalid\. expected a whole number of Hz/);
    expectOneLineError(runs.badDir, /^palabre: cannot write .*no\/such\/dir\/x\.wav: its directory does not exist$/);
  });
});

describe('palabre transcribe', () => {
  let runs: Record<'text' | 'json' | 'missing' | 'truncated' | 'hints' | 'denoise' | 'badStep', Run>;

  beforeAll(async () => {
    runs = await runAll({
      text: () => palabre(['transcribe', file('speech.wav')]),
      json: () => palabre(['transcribe', file('speech.wav'), '--json']),
      missing: () => palabre(['transcribe', file('nowhere.wav')]),
      truncated: () => palabre(['transcribe', file('truncated.wav')]),
      hints: () => palabre(['transcribe', file('speech.wav'), '--hints', `${SENTENCE},no thank you`]),
      denoise: () => palabre(['transcribe', file('noisy.wav'), '--preprocess', 'denoise', '--json']),
      badStep: () => palabre(['transcribe', file('speech.wav'), '--preprocess', 'sharpen']),
    });
  });

  it('prints the text of a flite WAV, and only the text', () => {
    expect(runs.text.code, runs.text.err).toBe(0);
    expect(runs.text.out.split('\n')).toHaveLength(2);
    expect(wordErrorRate(SENTENCE, runs.text.out)).toBeLessThanOrEqual(0.2);
  });

  it('--json prints the whole result: text, segments with words, duration, engine', () => {
    expect(runs.json.code, runs.json.err).toBe(0);
    const result = JSON.parse(runs.json.out) as { text: string; duration: number; engine: string; language: string; segments: Array<{ start: number; end: number; words?: unknown[] }> };
    expect(result.text).toBe(runs.text.out.trim());
    expect(result.duration).toBeCloseTo(speechSamples.length / speechRate, 1);
    expect(result.engine).toBe('pocketsphinx');
    expect(result.language).toBe('en');
    expect(result.segments.length).toBeGreaterThan(0);
    expect(result.segments[0].end).toBeGreaterThan(result.segments[0].start);
    expect(result.segments[0].words?.length).toBeGreaterThan(2);
  });

  it('names a missing file and a truncated WAV', () => {
    expectOneLineError(runs.missing, new RegExp(`^palabre: no such file: ${file('nowhere.wav').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expectOneLineError(runs.truncated, /^palabre: WAV header says \d+ bytes of data but only 2956 are present/);
    expectOneLineError(runs.badStep, /unknown preprocess step "sharpen"/);
  });

  it('--hints steers the recogniser to one of the phrases', () => {
    expect(runs.hints.code, runs.hints.err).toBe(0);
    // Without hints PocketSphinx hears "tomorrow mining"; with them the exact phrase.
    expect(runs.hints.out.trim()).toBe(SENTENCE);
  });

  it('--preprocess denoise cleans noisy speech before recognition', () => {
    expect(runs.denoise.code, runs.denoise.err).toBe(0);
    const result = JSON.parse(runs.denoise.out) as { text: string; preprocess: string[] };
    expect(result.preprocess).toContain('denoise');
    // Denoised, PocketSphinx still gets the end right ("… back tomorrow morning") but not "please call me".
    expect(wordErrorRate(SENTENCE, result.text)).toBeLessThanOrEqual(0.5);
  });
});

describe('palabre clean', () => {
  it('writes a WAV at the same rate and length with much less noise where nobody speaks', async () => {
    const run = await palabre(['clean', file('noisy.wav'), '-o', file('clean.wav')]);
    expect(run.code, run.err).toBe(0);
    expect(run.err).toMatch(/clean\.wav: \d+\.\d+ s at 16000 Hz cleaned in \d+ ms/);
    const before = decodeWav(readFileSync(file('noisy.wav')));
    const after = decodeWav(readFileSync(file('clean.wav')));
    expect(after.sampleRate).toBe(before.sampleRate);
    expect(after.samples.length).toBe(before.samples.length);
    const gap = (s: Int16Array) => s.subarray(0.1 * speechRate, (LEAD_IN_S - 0.1) * speechRate);
    const reduction = rmsDbfs(gap(before.samples)) - rmsDbfs(gap(after.samples));
    expect(reduction).toBeGreaterThan(10);
    // The speech itself survives.
    const talk = (s: Int16Array) => s.subarray(LEAD_IN_S * speechRate, LEAD_IN_S * speechRate + speechSamples.length);
    expect(rmsDbfs(talk(after.samples))).toBeGreaterThan(rmsDbfs(talk(before.samples)) - 6);
  });
});

describe('palabre config', () => {
  let runs: Record<'yaml' | 'json' | 'docs' | 'badEnv' | 'file' | 'fileAfter' | 'fromEnvVar' | 'missing' | 'badYaml' | 'unknownKey', Run>;

  beforeAll(async () => {
    writeFileSync(file('palabre.yaml'), 'server:\n  port: 9444\nengines:\n  tts:\n    engine: flite\n');
    writeFileSync(file('broken.yaml'), 'server:\n  port: [9444\n');
    writeFileSync(file('typo.yaml'), 'server:\n  prot: 9444\n');
    runs = await runAll(
      {
        yaml: () => palabre(['config'], { PALABRE_SERVER_AUTH_TOKEN: 'top-s3cret', PALABRE_SERVER_PORT: '9123' }),
        json: () => palabre(['config', '--json'], { PALABRE_SERVER_AUTH_TOKEN: 'top-s3cret', PALABRE_SERVER_PORT: '9123' }),
        docs: () => palabre(['config', '--docs']),
        badEnv: () => palabre(['config'], { PALABRE_SERVER_PORT: 'abc' }),
        file: () => palabre(['--config', file('palabre.yaml'), 'config', '--json'], { PALABRE_ENGINES_STT_ENGINE: 'sherpa' }),
        fileAfter: () => palabre(['config', '--json', '-c', file('palabre.yaml')]),
        fromEnvVar: () => palabre(['config', '--json'], { PALABRE_CONFIG: file('palabre.yaml') }),
        missing: () => palabre(['--config', file('absent.yaml'), 'config']),
        badYaml: () => palabre(['--config', file('broken.yaml'), 'config']),
        unknownKey: () => palabre(['--config', file('typo.yaml'), 'config']),
      },
      4,
    );
  });

  it('prints the effective configuration as YAML with the auth token masked', () => {
    expect(runs.yaml.code, runs.yaml.err).toBe(0);
    expect(runs.yaml.out).not.toContain('top-s3cret');
    const config = YAML.parse(runs.yaml.out) as { server: { authToken: string; port: number }; engines: { stt: { engine: string } } };
    expect(config.server.authToken).toBe('***');
    expect(config.server.port).toBe(9123);
    expect(config.engines.stt.engine).toBe('pocketsphinx');
  });

  it('--json prints the same configuration as JSON', () => {
    expect(runs.json.code, runs.json.err).toBe(0);
    expect(runs.json.out).not.toContain('top-s3cret');
    expect(JSON.parse(runs.json.out)).toEqual(YAML.parse(runs.yaml.out));
  });

  it('--docs prints the Markdown table with every env var', () => {
    expect(runs.docs.code, runs.docs.err).toBe(0);
    expect(runs.docs.out).toMatch(/^\| setting \| env var \| default \| meaning \|\n/);
    for (const leaf of settingLeaves()) expect(runs.docs.out).toContain(`| \`${leaf.env}\` |`);
  });

  it('an invalid env value exits 2 naming the setting and its env var', () => {
    expect(runs.badEnv.code).toBe(2);
    expect(runs.badEnv.err).toBe('palabre: invalid configuration:\n  server.port (PALABRE_SERVER_PORT="abc"): expected a number, got "abc"\n');
    expect(runs.badEnv.out).toBe('');
  });

  it('honours --config (before or after the command) and PALABRE_CONFIG, with env vars over the file', () => {
    for (const key of ['file', 'fileAfter', 'fromEnvVar'] as const) {
      expect(runs[key].code, `${key}: ${runs[key].err}`).toBe(0);
      const config = JSON.parse(runs[key].out) as { server: { port: number }; engines: { tts: { engine: string }; stt: { engine: string } } };
      expect(config.server.port, key).toBe(9444);
      expect(config.engines.tts.engine, key).toBe('flite');
    }
    expect((JSON.parse(runs.file.out) as { engines: { stt: { engine: string } } }).engines.stt.engine).toBe('sherpa');
  });

  it('a missing, broken or misspelt config file is a clear error', () => {
    expectOneLineError(runs.missing, new RegExp(`^palabre: cannot read config file .*absent\\.yaml: no such file$`));
    expect(runs.missing.code).toBe(2);
    expect(runs.badYaml.code).toBe(2);
    expect(runs.badYaml.err).toMatch(/^palabre: config file .*broken\.yaml is not valid YAML: .* at line \d+, column \d+/);
    expect(runs.badYaml.err).not.toMatch(/^\s+at /m);
    expect(runs.unknownKey.code).toBe(2);
    expect(runs.unknownKey.err).toMatch(/server\.prot: unknown setting in .*typo\.yaml; did you mean port\?/);
  });
});

describe('palabre doctor', () => {
  let runs: Record<'plain' | 'sherpa' | 'json', Run>;

  beforeAll(async () => {
    runs = await runAll({
      plain: () => palabre(['doctor']),
      sherpa: () => palabre(['doctor'], { PALABRE_ENGINES_STT_ENGINE: 'sherpa', PALABRE_AUDIO_FFMPEG_PATH: '/nonexistent/ffmpeg' }),
      json: () => palabre(['doctor', '--json']),
    });
  });

  it('lists each engine with its state, why sherpa is not loaded, and ffmpeg; exits 0 when the defaults load', () => {
    const { code, out, err } = runs.plain;
    expect(code, err).toBe(0);
    for (const engine of ['vad silero \\(default\\)', 'denoise rnnoise \\(default\\)', 'tts espeak \\(default\\)', 'tts flite', 'stt pocketsphinx \\(default\\)']) {
      expect(out).toMatch(new RegExp(`^ {2}ok {2}${engine} `, 'm'));
    }
    expect(out).toMatch(/^ {2}-- {2}stt sherpa +no sherpa model configured: set engines\.stt\.sherpa\.model \(PALABRE_ENGINES_STT_SHERPA_MODEL\)/m);
    expect(out).toMatch(/^ {2}ok {2}ffmpeg \(optional\) +ffmpeg version /m);
    expect(out).toMatch(/all default engines loaded\n$/);
    // Its own report says what did not load: no log lines on top.
    expect(err).toBe('');
  });

  it('exits 1 naming the missing default when the configured STT engine cannot load', () => {
    const { code, out } = runs.sherpa;
    expect(code).toBe(1);
    expect(out).toMatch(/^FAIL {2}stt sherpa \(default\) +no sherpa model configured/m);
    expect(out).toMatch(/^ {2}-- {2}ffmpeg \(optional\) +\/nonexistent\/ffmpeg not found/m);
    expect(out).toMatch(/default engines missing: stt sherpa\n$/);
  });

  it('--json is valid JSON with every engine status and the ffmpeg check', () => {
    expect(runs.json.code, runs.json.err).toBe(0);
    const report = JSON.parse(runs.json.out) as { engines: Array<{ kind: string; name: string; loaded: boolean; reason?: string }>; ffmpeg: { ok: boolean }; missingDefaults: string[] };
    expect(report.engines.map((e) => `${e.kind}:${e.name}`)).toEqual(expect.arrayContaining(['vad:silero', 'denoise:rnnoise', 'tts:espeak', 'tts:flite', 'stt:pocketsphinx', 'stt:sherpa']));
    expect(report.engines.find((e) => e.name === 'sherpa')).toMatchObject({ loaded: false, reason: expect.stringMatching(/no sherpa model configured/) });
    expect(report.ffmpeg.ok).toBe(true);
    expect(report.missingDefaults).toEqual([]);
  });
});

describe('palabre serve', () => {
  function freePort(): Promise<number> {
    return new Promise((done, fail) => {
      const probe = createServer();
      probe.once('error', fail);
      probe.listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => done(port));
      });
    });
  }

  it('answers /health on the port from PALABRE_SERVER_PORT, refuses a taken port, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    // Each server keeps its calls in its own data directory (the embedded database is locked by the process that opens it).
    const dataDirs = [mkdtempSync(join(tmpdir(), 'palabre-serve-')), mkdtempSync(join(tmpdir(), 'palabre-serve-'))];
    const child = start(['serve'], { PALABRE_SERVER_PORT: String(port), PALABRE_LOG_LEVEL: 'warn', PALABRE_DATA_DIR: dataDirs[0] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.once('exit', (code, signal) => done({ code, signal })));
    try {
      let health: { status: string; version: string; engines: Array<{ kind: string; name: string; loaded: boolean }> } | undefined;
      const deadline = Date.now() + 30_000;
      while (!health && Date.now() < deadline && child.exitCode === null) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          health = (await res.json()) as typeof health;
        } catch {
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      expect(health, `no /health answer; stderr: ${stderr}`).toBeDefined();
      expect(health!.status).toBe('ok');
      expect(health!.version).toMatch(/^\d+\.\d+\.\d+/);
      expect(health!.engines).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'stt', name: 'pocketsphinx', loaded: true })]));

      const second = await palabre(['serve', '--port', String(port)], { PALABRE_LOG_LEVEL: 'error', PALABRE_DATA_DIR: dataDirs[1] });
      expect(second.code).toBe(1);
      expect(second.err).toContain(`palabre: cannot listen on 127.0.0.1:${port}: the port is already in use`);
      expect(second.err).not.toMatch(/^\s+at /m);

      const sent = Date.now();
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      expect(Date.now() - sent).toBeLessThan(5000);
      await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      for (const d of dataDirs) rmSync(d, { recursive: true, force: true });
    }
  });
});
