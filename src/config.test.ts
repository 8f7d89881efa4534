import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configSchema, describeSettings, loadConfig, maskSecrets, settingLeaves, type LoadConfigOptions } from './config.js';
import { PalabreError } from './errors.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'palabre-config-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function yamlFile(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The message of the config_invalid error loadConfig throws (fails the test if it does not throw one). */
function problem(options: LoadConfigOptions): string {
  try {
    loadConfig(options);
  } catch (err) {
    expect(err).toBeInstanceOf(PalabreError);
    expect((err as PalabreError).code).toBe('config_invalid');
    return (err as PalabreError).message;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(options)}`);
}

describe('defaults', () => {
  it('load with no file and no env, and match the schema defaults', () => {
    const config = loadConfig({ env: {} });
    expect(config).toEqual(configSchema.parse({}));
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 8080, corsOrigins: [] });
    expect(config.server.authToken).toBeUndefined();
    expect(config.engines.stt.engine).toBe('pocketsphinx');
    expect(config.engines.tts.voices).toEqual({ fr: 'fr', en: 'en-us' });
    expect(config.engines.vad.batch).toBe(true);
  });

  it('give every leaf setting a distinct env var derived from its path', () => {
    const leaves = settingLeaves();
    const byPath = Object.fromEntries(leaves.map((l) => [l.path.join('.'), l.env]));
    expect(byPath['server.maxUploadBytes']).toBe('PALABRE_SERVER_MAX_UPLOAD_BYTES');
    expect(byPath['engines.stt.pocketsphinx.poolSize']).toBe('PALABRE_ENGINES_STT_POCKETSPHINX_POOL_SIZE');
    expect(byPath['engines.tts.voices']).toBe('PALABRE_ENGINES_TTS_VOICES');
    expect(byPath.dataDir).toBe('PALABRE_DATA_DIR');
    expect(new Set(leaves.map((l) => l.env)).size).toBe(leaves.length);
  });
});

describe('environment variables', () => {
  it('override numbers, strings and enums', () => {
    const config = loadConfig({
      env: { PALABRE_SERVER_PORT: '9000', PALABRE_ENGINES_VAD_THRESHOLD: ' 0.35 ', PALABRE_SERVER_HOST: '0.0.0.0', PALABRE_ENGINES_STT_ENGINE: 'sherpa', PALABRE_STT_SILENCE: undefined },
    });
    expect(config.server.port).toBe(9000);
    expect(config.engines.vad.threshold).toBe(0.35);
    expect(config.server.host).toBe('0.0.0.0');
    expect(config.engines.stt.engine).toBe('sherpa');
  });

  it('read booleans as true/false, 1/0, yes/no, on/off', () => {
    const cases: Array<[string, boolean]> = [['true', true], ['false', false], ['1', true], ['0', false], ['YES', true], ['off', false]];
    for (const [text, expected] of cases) {
      const config = loadConfig({ env: { PALABRE_ENGINES_VAD_BATCH: text, PALABRE_PREPROCESS_DENOISE: text } });
      expect(config.engines.vad.batch, text).toBe(expected);
      expect(config.preprocess.denoise, text).toBe(expected);
    }
  });

  it('refuses a boolean it cannot read instead of taking it as false', () => {
    const message = problem({ env: { PALABRE_ENGINES_VAD_BATCH: 'ture' } });
    expect(message).toContain('engines.vad.batch (PALABRE_ENGINES_VAD_BATCH="ture"): expected true or false');
  });

  it('split comma lists, trimming spaces and dropping empty items', () => {
    const config = loadConfig({ env: { PALABRE_SERVER_CORS_ORIGINS: 'https://a.example, https://b.example,,' } });
    expect(config.server.corsOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('read the voices map as key=value pairs, key: value pairs or a YAML flow mapping', () => {
    for (const text of ['fr=fr-fr, de=de', 'fr: fr-fr, de: de', '{fr: fr-fr, de: de}', 'fr: fr-fr\nde: de']) {
      expect(loadConfig({ env: { PALABRE_ENGINES_TTS_VOICES: text } }).engines.tts.voices, text).toEqual({ fr: 'fr-fr', de: 'de' });
    }
  });

  it('refuses a voices map it cannot read with a config error, not a YAML exception', () => {
    expect(problem({ env: { PALABRE_ENGINES_TTS_VOICES: 'fr' } })).toMatch(/engines\.tts\.voices \(PALABRE_ENGINES_TTS_VOICES="fr"\): expected key=value pairs/);
    expect(problem({ env: { PALABRE_ENGINES_TTS_VOICES: '{fr: [' } })).toMatch(/PALABRE_ENGINES_TTS_VOICES="\{fr: \["\): not a valid YAML mapping/);
  });

  it('give back the defaults when every setting is set to its default through its env var', () => {
    const defaults = configSchema.parse({});
    const env: Record<string, string> = {};
    for (const leaf of settingLeaves()) {
      let value: unknown = defaults;
      for (const k of leaf.path) value = (value as Record<string, unknown>)[k];
      if (value === undefined) continue;
      if (Array.isArray(value)) env[leaf.env] = value.join(',');
      else if (typeof value === 'object') env[leaf.env] = Object.entries(value as Record<string, string>).map(([k, v]) => `${k}=${v}`).join(',');
      else env[leaf.env] = String(value);
    }
    expect(Object.keys(env).length).toBeGreaterThan(40);
    expect(loadConfig({ env })).toEqual(defaults);
  });

  it('ignore empty values (an unset variable in a compose file)', () => {
    const config = loadConfig({ env: { PALABRE_SERVER_PORT: '', PALABRE_SERVER_AUTH_TOKEN: '' } });
    expect(config.server.port).toBe(8080);
    expect(config.server.authToken).toBeUndefined();
  });

  it('refuses an unknown PALABRE_ variable, suggesting the closest one, and leaves other variables alone', () => {
    const message = problem({ env: { PALABRE_SERVER_PROT: '9000', HOME: '/root' } });
    expect(message).toContain('PALABRE_SERVER_PROT: unknown environment variable; did you mean PALABRE_SERVER_PORT?');
    expect(loadConfig({ env: { HOME: '/root', PATH: '/bin' } }).server.port).toBe(8080);
  });
});

describe('invalid values', () => {
  it('name the setting path and its env var, with the text given', () => {
    const message = problem({ env: { PALABRE_SERVER_PORT: 'abc' } });
    expect(message).toMatch(/^invalid configuration:\n {2}server\.port \(PALABRE_SERVER_PORT="abc"\): expected a number, got "abc"$/);
    expect(problem({ env: { PALABRE_SERVER_PORT: '70000' } })).toMatch(/server\.port \(PALABRE_SERVER_PORT="70000"\): .*65535/);
    expect(problem({ env: { PALABRE_ENGINES_VAD_ENGINE: 'bogus' } })).toMatch(/engines\.vad\.engine \(PALABRE_ENGINES_VAD_ENGINE="bogus"\): .*"silero"\|"webrtc"/);
    expect(problem({ env: { PALABRE_ENGINES_TTS_LANGUAGE: 'French' } })).toMatch(/engines\.tts\.language \(PALABRE_ENGINES_TTS_LANGUAGE="French"\): a language tag/);
  });

  it('list every problem, not only the first', () => {
    const message = problem({ env: { PALABRE_SERVER_PORT: 'x', PALABRE_LOG_LEVEL: 'loud', PALABRE_AUDIO_RESAMPLE_QUALITY: '11' } });
    expect(message).toContain('server.port (PALABRE_SERVER_PORT="x")');
    expect(message).toContain('log.level (PALABRE_LOG_LEVEL="loud")');
    expect(message).toContain('audio.resampleQuality (PALABRE_AUDIO_RESAMPLE_QUALITY="11")');
  });

  it('refuse values zod would silently coerce to a number (true, "", "0x10")', () => {
    const file = yamlFile('coerce.yaml', 'server:\n  port: true\n  maxUploadBytes: ""\naudio:\n  resampleQuality: "0x10"\n');
    const message = problem({ env: {}, file });
    expect(message).toContain('server.port (PALABRE_SERVER_PORT): expected a number, got true');
    expect(message).toContain('server.maxUploadBytes (PALABRE_SERVER_MAX_UPLOAD_BYTES): expected a number, got ""');
    expect(message).toContain('audio.resampleQuality (PALABRE_AUDIO_RESAMPLE_QUALITY): expected a number, got "0x10"');
    // A quoted number is still a number.
    expect(loadConfig({ env: {}, file: yamlFile('quoted.yaml', 'server:\n  port: "8123"\n') }).server.port).toBe(8123);
  });

  it('name the map env var for a bad entry inside the voices map', () => {
    const file = yamlFile('voices.yaml', 'engines:\n  tts:\n    voices:\n      fr: [a, b]\n');
    expect(problem({ env: {}, file })).toMatch(/engines\.tts\.voices\.fr \(PALABRE_ENGINES_TTS_VOICES\): .*string/);
  });
});

describe('YAML file', () => {
  it('is read from the file option or PALABRE_CONFIG, and env vars win over it, and overrides over both', () => {
    const file = yamlFile('base.yaml', 'server:\n  host: 0.0.0.0\n  port: 9001\nengines:\n  tts:\n    voices: {fr: fr-be}\n');
    expect(loadConfig({ env: {}, file }).server).toMatchObject({ host: '0.0.0.0', port: 9001 });
    expect(loadConfig({ env: { PALABRE_CONFIG: file } }).server.port).toBe(9001);
    const both = loadConfig({ env: { PALABRE_SERVER_PORT: '9002' }, file });
    expect(both.server).toMatchObject({ host: '0.0.0.0', port: 9002 });
    expect(both.engines.tts.voices).toEqual({ fr: 'fr-be' });
    expect(loadConfig({ env: { PALABRE_SERVER_PORT: '9002' }, file, overrides: { server: { port: 9003 } } }).server).toMatchObject({ host: '0.0.0.0', port: 9003 });
  });

  it('has its voices map replaced, not merged, by the env var', () => {
    const file = yamlFile('voices-map.yaml', 'engines:\n  tts:\n    voices: {fr: fr-be, en: en-gb}\n');
    expect(loadConfig({ env: { PALABRE_ENGINES_TTS_VOICES: 'de=de' }, file }).engines.tts.voices).toEqual({ de: 'de' });
  });

  it('the file option wins over PALABRE_CONFIG', () => {
    const a = yamlFile('a.yaml', 'server:\n  port: 1111\n');
    const b = yamlFile('b.yaml', 'server:\n  port: 2222\n');
    expect(loadConfig({ env: { PALABRE_CONFIG: a }, file: b }).server.port).toBe(2222);
  });

  it('treats an empty file and empty keys as unset (YAML null), so defaults apply', () => {
    expect(loadConfig({ env: {}, file: yamlFile('empty.yaml', '') })).toEqual(configSchema.parse({}));
    // Everything under `server:` commented out; `port:` left empty: must not become port 0.
    const config = loadConfig({ env: {}, file: yamlFile('nulls.yaml', 'server:\n  # port: 9000\nlog:\n  level:\nengines:\n  stt:\n    pocketsphinx:\n      poolSize: ~\n') });
    expect(config.server.port).toBe(8080);
    expect(config.log.level).toBe('info');
    expect(config.engines.stt.pocketsphinx.poolSize).toBe(2);
  });

  it('rejects unknown keys, naming them and the closest known setting', () => {
    const file = yamlFile('typo.yaml', 'server:\n  prot: 9000\nsever:\n  host: x\nengines:\n  stt:\n    pocketsphinx:\n      poolsize: 3\n');
    const message = problem({ env: {}, file });
    expect(message).toContain(`server.prot: unknown setting in ${file}; did you mean port?`);
    expect(message).toContain(`sever: unknown setting in ${file}; did you mean server?`);
    expect(message).toContain('engines.stt.pocketsphinx.poolsize: unknown setting');
    expect(message).toContain('did you mean poolSize?');
    expect(problem({ env: {}, overrides: { server: { portt: 1 } } })).toContain('server.portt: unknown setting; did you mean port?');
  });

  it('gives a clear error for a missing file, bad YAML, or a file that is not a mapping', () => {
    expect(problem({ env: {}, file: join(dir, 'missing.yaml') })).toBe(`cannot read config file ${join(dir, 'missing.yaml')}: no such file`);
    expect(problem({ env: {}, file: dir })).toBe(`cannot read config file ${dir}: it is a directory`);
    const bad = yamlFile('bad.yaml', 'server:\n  port: [8080\n');
    expect(problem({ env: {}, file: bad })).toMatch(new RegExp(`^config file ${bad} is not valid YAML: .*line \\d+`));
    const list = yamlFile('list.yaml', '- server\n- port\n');
    expect(problem({ env: {}, file: list })).toMatch(/must be a mapping of settings .*not a list/);
    const section = yamlFile('section.yaml', 'server: 8080\n');
    expect(problem({ env: {}, file: section })).toMatch(/^invalid configuration:\n {2}server: .*object/);
  });
});

describe('maskSecrets', () => {
  it('replaces the auth token with *** in a copy, leaving the rest and the original intact', () => {
    const config = loadConfig({ env: { PALABRE_SERVER_AUTH_TOKEN: 's3cret' } });
    const masked = maskSecrets(config);
    expect(masked.server.authToken).toBe('***');
    expect(config.server.authToken).toBe('s3cret');
    expect({ ...masked, server: { ...masked.server, authToken: 's3cret' } }).toEqual(config);
    expect(JSON.stringify(masked)).not.toContain('s3cret');
  });

  it('leaves an unset token unset and masks passwords inside URLs', () => {
    expect(maskSecrets(loadConfig({ env: {} })).server.authToken).toBeUndefined();
    const config = loadConfig({ env: { PALABRE_MODELS_BASE_URL: 'https://bob:hunter2@mirror.example.org/models' } });
    expect(maskSecrets(config).models.baseUrl).toBe('https://bob:***@mirror.example.org/models');
    expect(maskSecrets({ apiKey: 'k', nested: [{ password: 'p' }], other: 'v' })).toEqual({ apiKey: '***', nested: [{ password: '***' }], other: 'v' });
  });
});

describe('describeSettings', () => {
  it('has one Markdown row per leaf setting with its env var, default and meaning', () => {
    const table = describeSettings();
    const lines = table.split('\n');
    const leaves = settingLeaves();
    expect(lines[0]).toBe('| setting | env var | default | meaning |');
    expect(lines.length).toBe(leaves.length + 2);
    for (const leaf of leaves) {
      const row = lines.find((l) => l.startsWith(`| \`${leaf.path.join('.')}\` |`));
      expect(row, leaf.path.join('.')).toBeDefined();
      expect(row).toContain(`| \`${leaf.env}\` |`);
      expect(row!.split('|')[4].trim().length, `${leaf.path.join('.')} has a description`).toBeGreaterThan(10);
    }
    expect(table).toContain('| `server.port` | `PALABRE_SERVER_PORT` | `8080` |');
    expect(table).toContain('| `server.authToken` | `PALABRE_SERVER_AUTH_TOKEN` | `(unset)` |');
    expect(table).toMatch(/`engines\.tts\.voices` .*`fr=fr,en=en-us`/);
  });
});
