/**
 * Every setting of palabre, typed and validated in one place.
 *
 * Sources, later ones winning: the defaults below, an optional YAML file
 * (`--config FILE` or PALABRE_CONFIG), then environment variables. Each leaf
 * setting has an env var derived from its path: `engines.stt.engine` is
 * PALABRE_ENGINES_STT_ENGINE. Arrays in env vars are comma-separated.
 * No other module reads process.env.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import YAML from 'yaml';
import { z } from 'zod';
import { OPENAI_PRESET_NAMES } from './engines/openai/presets.js';
import { PalabreError } from './errors.js';

const LANGUAGE = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'a language tag such as fr, en or en-US');

const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1').describe('Address the HTTP server binds to; 0.0.0.0 to accept other machines.'),
  port: z.coerce.number().int().min(0).max(65535).default(8080).describe('HTTP port (0 picks a free one).'),
  authToken: z.string().optional().describe('When set, every API route except /health and /docs requires `Authorization: Bearer <token>`.'),
  adminToken: z.string().optional().describe('Token of the operator API (/api/calls, /api/records, /api/stats and their CSV and recordings), sent as `Authorization: Bearer <token>`; `authToken` does not open it. Unset, the operator API answers only while the server listens on a loopback address.'),
  corsOrigins: z.array(z.string()).default([]).describe('Origins allowed by CORS; none by default.'),
  maxUploadBytes: z.coerce.number().int().positive().default(25 * 1024 * 1024).describe('Largest accepted request body or uploaded file; larger gets 413.'),
  requestTimeoutMs: z.coerce.number().int().positive().default(120_000).describe('Longest a request may take before the server answers 503.'),
  instanceId: z.string().trim().min(1).max(200).optional().describe('Names this palabre process among those sharing one PostgreSQL database: its calls are stored with it, and at start-up it closes as interrupted only the calls a crash of this same instance left open, never those other servers are carrying. Default: <hostname>:<server.port>; set it when either may change across restarts.'),
});

const logSchema = z.strictObject({
  level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info').describe('pino log level.'),
});

const audioSchema = z.strictObject({
  ffmpegPath: z.string().default('ffmpeg').describe('ffmpeg program used to decode compressed uploads (mp3, ogg/opus, webm, m4a); optional.'),
  resampleQuality: z.coerce.number().int().min(0).max(10).default(5).describe('Speex resampler quality, 0 (fastest) to 10 (best).'),
});

const vadSchema = z.strictObject({
  engine: z.enum(['silero', 'webrtc']).default('silero').describe('Voice activity detector: Silero v5 (ONNX) or WebRTC VAD (fvad, lighter, weak in noise).'),
  threshold: z.coerce.number().min(0).max(1).default(0.5).describe('Speech probability above which a window is speech (Silero).'),
  minSpeechMs: z.coerce.number().int().min(0).default(250).describe('Shortest speech reported as a speech region.'),
  minSilenceMs: z.coerce.number().int().min(0).default(300).describe('Silence needed to end a speech region.'),
  webrtcMode: z.coerce.number().int().min(0).max(3).default(3).describe('WebRTC VAD aggressiveness, 0 (least) to 3 (most).'),
  batch: z.boolean().default(true).describe('Run the Silero windows of all live streams that arrive in the same tick as one batch (2-3x cheaper per call under load).'),
  batchWaitMs: z.coerce.number().min(0).max(20).default(4).describe('While other Silero streams are live, how long a window may wait for theirs to join its batch (bigger batches cost less per window; 0 sends each batch as soon as the event loop turns).'),
  worker: z.boolean().default(true).describe('Run Silero inference on a worker thread, so it does not hold up the event loop that paces call audio (same results; a dead thread fails the calls using it and is replaced).'),
  workerNice: z.coerce.number().int().min(0).max(19).default(0).describe('Niceness of the Silero worker thread on Linux: above 0, the event loop that paces call audio gets the cores first when they are contended, but VAD then falls behind first when the machine is overloaded (at 200 calls on 2 cores, 5 did not lower outbound jitter); 0 leaves it as is.'),
});

const denoiseSchema = z.strictObject({
  engine: z.enum(['rnnoise', 'none']).default('rnnoise').describe('Noise suppressor used when denoising is asked for.'),
  failsafe: z.boolean().default(true).describe('On a noise-suppressor failure pass the original audio through (logged and counted) instead of failing.'),
});

const elevenlabsSchema = z.strictObject({
  apiKey: z.string().optional().describe('ElevenLabs API key, sent as the `xi-api-key` header; never logged. The engine loads only when it is set.'),
  baseUrl: z.string().trim().regex(/^https?:\/\/[^\s/]+/, 'an http(s) URL such as https://api.elevenlabs.io').default('https://api.elevenlabs.io').describe('ElevenLabs API server (a regional one such as https://api.eu.residency.elevenlabs.io, or a compatible local server); stream-input uses the same host over ws(s).'),
  voiceId: z.string().default('').describe('Voice used when a request names none and its language has none in `voices`.'),
  voices: z.record(z.string(), z.string()).default({}).describe('Voice id per language (fr=<voice id>,en=<voice id>).'),
  modelId: z.string().default('eleven_flash_v2_5').describe('Model: eleven_flash_v2_5 (lowest latency, 32 languages), eleven_turbo_v2_5, eleven_multilingual_v2, or eleven_flash_v2 (English only).'),
  withTimestamps: z.boolean().default(true).describe('Ask for character alignment with the audio, so a barge-in knows which words were heard.'),
  connectTimeoutMs: z.coerce.number().int().positive().default(5_000).describe('Longest wait to connect (TCP and TLS, or the WebSocket handshake).'),
  firstByteTimeoutMs: z.coerce.number().int().positive().default(5_000).describe('Longest wait for the first audio after connecting (after the first text on stream-input), and over HTTP between two chunks.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest one synthesis may take from start to last audio.'),
});

const ttsSchema = z.strictObject({
  engine: z.enum(['espeak', 'flite', 'elevenlabs', 'openai']).default('espeak').describe('Default text-to-speech engine (elevenlabs and openai need their section configured).'),
  language: LANGUAGE.default('fr').describe('Language spoken when a request names none.'),
  voices: z.record(z.string(), z.string()).default({ fr: 'fr', en: 'en-us' }).describe('Default voice per language.'),
  cacheEntries: z.coerce.number().int().min(0).default(500).describe('Dynamic phrases kept in the LRU phrase cache.'),
  cacheBytes: z.coerce.number().int().min(0).default(64 * 1024 * 1024).describe('Byte bound of the phrase cache.'),
  fallback: z.array(z.enum(['espeak', 'flite', 'elevenlabs', 'openai'])).default([]).describe('Engines that speak, in order, when the default one fails before any audio (for example [espeak] behind elevenlabs).'),
  elevenlabs: elevenlabsSchema.default(elevenlabsSchema.parse({})),
});

const pocketsphinxSchema = z.strictObject({
  library: z.string().default('libpocketsphinx.so.3').describe('Shared library loaded through FFI (Debian package libpocketsphinx3).'),
  hmm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us').describe('Acoustic model directory.'),
  dict: z.string().default('/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict').describe('Pronunciation dictionary.'),
  lm: z.string().default('/usr/share/pocketsphinx/model/en-us/en-us.lm.bin').describe('Language model.'),
  poolSize: z.coerce.number().int().min(1).max(16).default(2).describe('Decoders kept loaded (about 110 MB each); requests beyond wait their turn.'),
  args: z.array(z.string()).default(['-maxhmmpf', '10000']).describe('Extra decoder arguments passed as is. The default caps the search: 0.31 → 0.30 real-time factor on telephone prompts at the same word error rate; tighter caps (5000) are faster but lose words.'),
});

const sherpaSchema = z.strictObject({
  model: z.string().default('').describe('Catalog id of the sherpa-onnx model to load (see `palabre models list`); empty disables sherpa.'),
  numThreads: z.coerce.number().int().min(1).max(16).default(1).describe('Threads per sherpa-onnx recogniser.'),
});

const deepgramSchema = z.strictObject({
  apiKey: z.string().optional().describe('Deepgram API key, sent as `Authorization: Token <key>` and never logged; the deepgram engine loads only when it is set.'),
  baseUrl: z.string().trim().url().default('https://api.deepgram.com').describe('Deepgram API base URL (REST); the live WebSocket uses the same host over wss:// (ws:// for http://). A self-hosted Deepgram or a test server goes here.'),
  model: z.string().min(1).default('nova-3').describe('Deepgram model (nova-3, nova-2-phonecall…). Hints go as `keyterm` to Nova-3 models, as `keywords` to older ones.'),
  language: z.string().regex(/^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multi)$/, 'a language tag such as en or en-US, or multi').default('en').describe('Language asked for when a call or request names none (multi: Nova-3 code-switching).'),
  encoding: z.enum(['linear16', 'mulaw']).default('linear16').describe('How audio is sent: 16-bit PCM, or G.711 µ-law (telephone lines; pair with sampleRate 8000).'),
  sampleRate: z.coerce.number().int().min(8000).max(48_000).default(16_000).describe('Rate of the audio sent to Deepgram; the pipeline resamples to it.'),
  endpointingMs: z.coerce.number().int().min(0).max(10_000).default(300).describe('Silence (ms) after which Deepgram finalises a segment (`endpointing`, marks speech_final); 0 turns it off. A dialog state\'s own setting overrides it.'),
  utteranceEndMs: z.coerce.number().int().refine((n) => n === 0 || n >= 1000, '0 (off) or at least 1000: interim results come about once a second, so shorter gaps cannot be seen').default(1000).describe('Gap (ms) after the last word for an UtteranceEnd message (`utterance_end_ms`); 0 turns it off.'),
  vadEvents: z.boolean().default(true).describe('Ask for SpeechStarted events (`vad_events`), which can cut the bot off early on barge-in.'),
  smartFormat: z.boolean().default(false).describe('Punctuation, capitals and formatted numbers in transcripts (`smart_format`).'),
  connectTimeoutMs: z.coerce.number().int().positive().default(5000).describe('A connection (REST or live) not up within this long fails, marked retryable.'),
  timeoutMs: z.coerce.number().int().positive().default(15_000).describe('Longest a pre-recorded transcription, or a live turn\'s final result after the end of speech, may take.'),
  keepAliveMs: z.coerce.number().int().min(500).max(9000).default(4000).describe('KeepAlive interval while no audio is sent (the bot speaking); Deepgram closes a stream idle for 10 s.'),
  finalizeWaitMs: z.coerce.number().int().min(50).default(1500).describe('Wait for the answer to Finalize at the end of a turn before asking with CloseStream instead (Deepgram answers Finalize only when it holds audio).'),
});

const sttSchema = z.strictObject({
  engine: z.enum(['pocketsphinx', 'sherpa', 'deepgram', 'openai']).default('pocketsphinx').describe('Default speech-to-text engine (deepgram and openai need their section configured).'),
  language: LANGUAGE.optional().describe('Language assumed when a request names none (default: the engine\'s own).'),
  minAudioMs: z.coerce.number().int().min(0).default(100).describe('Shorter audio is refused with 422 audio_too_short.'),
  silenceDbfs: z.coerce.number().max(0).default(-60).describe('Audio whose level stays below this is refused with 422 audio_silent.'),
  degenerateMaxRepeats: z.coerce.number().int().min(2).default(6).describe('The same word or character repeated this many times in a row marks the output degenerate.'),
  degenerateAction: z.enum(['flag', 'drop']).default('flag').describe('flag: keep the text and set `degenerate`; drop: return empty text.'),
  fallback: z.array(z.enum(['pocketsphinx', 'sherpa', 'deepgram', 'openai'])).default([]).describe('Engines that transcribe, in order, when the default one fails (for example [pocketsphinx] behind deepgram); a failed stream is re-transcribed from the turn\'s audio.'),
  pocketsphinx: pocketsphinxSchema.default(pocketsphinxSchema.parse({})),
  sherpa: sherpaSchema.default(sherpaSchema.parse({})),
  deepgram: deepgramSchema.default(deepgramSchema.parse({})),
});

const HTTP_URL = z.string().trim().refine((s) => s === '' || /^https?:\/\/[^\s/]+/.test(s), 'an http(s) URL such as http://localhost:11434/v1, or empty');
const OPENAI_PRESET = z.enum(OPENAI_PRESET_NAMES);

const llmSchema = z.strictObject({
  preset: OPENAI_PRESET.default('generic').describe('Which OpenAI-compatible service the server is (generic, openai, groq, mistral, ollama, vllm), for the request fields it accepts and its default URL and model.'),
  baseUrl: HTTP_URL.default('').describe('OpenAI-compatible server that writes the replies of `llm` flow states, including the version prefix (https://api.openai.com/v1, http://localhost:11434/v1 for Ollama); empty means the preset\'s URL, and with the generic preset no language model (flows that need one refuse to load).'),
  apiKey: z.string().optional().describe('Sent as `Authorization: Bearer <key>` to the language model server; never logged.'),
  model: z.string().default('').describe('Model the server is asked for (gpt-4o-mini, llama3.2…); empty means the preset\'s default, required with the generic preset.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest a whole reply may take; a server that sends nothing for 10 s (or this, if shorter) fails sooner.'),
});

const openAiUseFields = (use: string) => ({
  preset: OPENAI_PRESET.optional().describe(`Preset of the ${use} server when it is not engines.openai.preset.`),
  baseUrl: HTTP_URL.optional().describe(`Base URL of the ${use} server when it is not engines.openai.baseUrl.`),
  apiKey: z.string().optional().describe(`API key of the ${use} server when it is not engines.openai.apiKey; never logged.`),
  model: z.string().default('').describe(`${use} model; empty means the preset's default.`),
});

const openAiSttSchema = z.strictObject(openAiUseFields('Transcription'));
const openAiTtsSchema = z.strictObject({
  ...openAiUseFields('Speech'),
  voices: z.record(z.string(), z.string()).default({}).describe('Voice per language (fr=ff_siwis,en=af_heart); languages not listed take the preset\'s voice, and the engine speaks the languages either names.'),
  sampleRate: z.coerce.number().int().refine((r) => [8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000].includes(r), 'one of 8000, 12000, 16000, 22050, 24000, 32000, 44100, 48000').default(24_000).describe('Rate of the audio the engine hands on; the servers send 24 kHz PCM, resampled when this differs.'),
});
const openAiEmbeddingsSchema = z.strictObject(openAiUseFields('Embeddings'));

const openAiSchema = z.strictObject({
  preset: OPENAI_PRESET.default('openai').describe('Which OpenAI-compatible service serves transcription, speech and embeddings (openai, groq, mistral, ollama, vllm, speaches, kokoro, generic): its default URL, models and voices, and the request fields it accepts.'),
  baseUrl: HTTP_URL.default('').describe('Server base URL including the version prefix (http://gpu-box:8000/v1); empty means the preset\'s.'),
  apiKey: z.string().optional().describe('Sent as `Authorization: Bearer <key>`; never logged.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest one request (a transcription, a spoken answer) may take.'),
  connectTimeoutMs: z.coerce.number().int().positive().default(5_000).describe('Longest wait for a speech server to start sending audio, and for each next piece of it (transcriptions and embeddings have only timeoutMs).'),
  stt: openAiSttSchema.default(openAiSttSchema.parse({})),
  tts: openAiTtsSchema.default(openAiTtsSchema.parse({})),
  embeddings: openAiEmbeddingsSchema.default(openAiEmbeddingsSchema.parse({})),
});

const realtimeSchema = z.strictObject({
  baseUrl: z.string().trim().regex(/^wss?:\/\/[^\s/]+/, 'a ws:// or wss:// URL such as wss://api.openai.com/v1/realtime').default('wss://api.openai.com/v1/realtime').describe('OpenAI Realtime endpoint (speech-to-speech flows, `mode: realtime`); `?model=` is added per call.'),
  apiKey: z.string().optional().describe('Sent as `Authorization: Bearer <key>` to the Realtime API; never logged. Flows with `mode: realtime` load only when it is set.'),
  model: z.string().min(1).default('gpt-realtime').describe('Realtime model used when a flow names none.'),
  voice: z.string().min(1).default('marin').describe('Voice used when a flow names none.'),
  transcriptionModel: z.string().min(1).default('gpt-4o-mini-transcribe').describe('Model that transcribes the caller\'s turns for the call\'s transcript.'),
  connectTimeoutMs: z.coerce.number().int().positive().default(5000).describe('The connection open and its session configured within this long, or the call ends with reason error.'),
});

const breakerSchema = z.strictObject({
  failures: z.coerce.number().int().min(1).default(3).describe('Failures in a row after which an engine of a fallback chain is skipped by every call for the cool-down.'),
  cooldownMs: z.coerce.number().int().min(0).default(30_000).describe('How long a failing engine is skipped before one call tries it again.'),
});

const enginesSchema = z.strictObject({
  breaker: breakerSchema.default(breakerSchema.parse({})),
  vad: vadSchema.default(vadSchema.parse({})),
  denoise: denoiseSchema.default(denoiseSchema.parse({})),
  tts: ttsSchema.default(ttsSchema.parse({})),
  stt: sttSchema.default(sttSchema.parse({})),
  llm: llmSchema.default(llmSchema.parse({})),
  openai: openAiSchema.default(openAiSchema.parse({})),
  realtime: realtimeSchema.default(realtimeSchema.parse({})),
});

const modelsSchema = z.strictObject({
  dir: z.string().default('./data/models').describe('Where downloaded models live.'),
  baseUrl: z.string().url().optional().describe('Mirror to download catalog models from instead of their upstream release pages.'),
  timeoutMs: z.coerce.number().int().positive().default(30_000).describe('A download with no data for this long fails.'),
});

const callSchema = z.strictObject({
  maxCallMs: z.coerce.number().int().positive().default(3_600_000).describe('A call is ended (reason timeout) after this long.'),
  prerollMs: z.coerce.number().int().min(0).max(2000).default(300).describe('Audio kept before the VAD confirms speech, so the first syllable reaches STT.'),
  sttTimeoutMs: z.coerce.number().int().positive().default(20_000).describe('Longest wait for a transcript of one turn.'),
  dialogTimeoutMs: z.coerce.number().int().positive().default(30_000).describe('Longest wait for the dialog (intent chain, LLM) to answer one turn.'),
  maxEngineErrors: z.coerce.number().int().min(1).default(3).describe('Recognition failures in a row after which the flow\'s error path runs (and error paths after which the call ends with reason error).'),
  apology: z
    .strictObject({
      fr: z.string().min(1).default('Désolé, nous rencontrons un problème technique.').describe('The apology in French.'),
      en: z.string().min(1).default('Sorry, we are having a technical problem.').describe('The apology in English.'),
    })
    .prefault({})
    .describe('Said when the bot\'s voice fails (every text-to-speech engine of the chain): rendered into the phrase cache at the first call so that it plays without the engine.'),
});

const pricingSchema = z.strictObject({
  currency: z.string().min(1).default('USD').describe('Currency of the prices below and of the cost stored with each call.'),
  stt: z.record(z.string(), z.strictObject({ perMinute: z.number().min(0).optional(), perRequest: z.number().min(0).optional() })).default({}).describe('Price per speech-to-text engine name (deepgram, openai…): per minute of audio sent, per request.'),
  tts: z.record(z.string(), z.strictObject({ perThousandCharacters: z.number().min(0).optional(), perRequest: z.number().min(0).optional() })).default({}).describe('Price per text-to-speech engine name (elevenlabs, openai…): per thousand characters, per request.'),
  llm: z
    .record(z.string(), z.strictObject({ perMillionPromptTokens: z.number().min(0).optional(), perMillionCompletionTokens: z.number().min(0).optional(), perRequest: z.number().min(0).optional() }))
    .default({})
    .describe('Price per language model (its engine name, e.g. openai): per million prompt and completion tokens, per request.'),
  enabled: z.boolean().default(false).describe('Turn the usage of each call into a cost with this table (stored with the call; engines absent from the table cost nothing).'),
});

const browserSchema = z.strictObject({
  maxSessions: z.coerce.number().int().min(1).default(50).describe('Browser sessions open at once; more are refused with 503.'),
  connectTimeoutMs: z.coerce.number().int().positive().default(60_000).describe('A started session nobody connects to within this long expires.'),
});

const twilioSchema = z.strictObject({
  authToken: z.string().optional().describe('Twilio auth token: when set, POST /twilio/voice and the WebSocket handshake of /twilio/media require a valid X-Twilio-Signature (403 otherwise).'),
  publicUrl: z.string().url().optional().describe('Base URL Twilio reaches this server at (signatures cover it; set it behind a proxy).'),
  defaultFlow: z.string().default('support-desk').describe('Flow a Twilio call runs when the stream names none.'),
  defaultLanguage: z.string().default('en').describe('Language of a Twilio call when the stream names none.'),
  maxCalls: z.coerce.number().int().min(1).default(50).describe('Twilio media streams at once; more are closed with 1013.'),
});

const flowChoiceSchema = z.strictObject({ flow: z.string().min(1), language: z.string().min(2) });

const audiosocketSchema = z.strictObject({
  enabled: z.boolean().default(false).describe('Run the Asterisk AudioSocket TCP server with `palabre serve`.'),
  host: z.string().default('127.0.0.1').describe('Address the AudioSocket server binds to; 0.0.0.0 (with an allow-list) for Asterisk on another machine.'),
  port: z.coerce.number().int().min(0).max(65535).default(9090).describe('AudioSocket TCP port.'),
  allow: z.array(z.string()).default([]).describe('Asterisk addresses and CIDR ranges allowed to connect (IPv4 and IPv6); empty allows all.'),
  maxCalls: z.coerce.number().int().min(1).default(50).describe('AudioSocket calls at once; more get a hangup frame.'),
  firstFrameTimeoutMs: z.coerce.number().int().positive().default(5000).describe('The UUID frame must arrive within this time.'),
  flow: z.string().default('support-desk').describe('Flow an AudioSocket call runs when its UUID is not in flowsByUuid.'),
  language: z.string().default('en').describe('Language of that default flow.'),
  flowsByUuid: z.record(z.string(), flowChoiceSchema).default({}).describe('Flow and language per call UUID (set by the dialplan), e.g. {"<uuid>": {flow: heating-leads, language: fr}}.'),
  flowHookUrl: z.string().url().optional().describe('Asked `GET <url>?uuid=<uuid>` for `{flow, language}` when the UUID is not in flowsByUuid; a failure or timeout falls back to the default flow.'),
  flowHookTimeoutMs: z.coerce.number().int().positive().default(1500).describe('Longest wait for the flow hook (Asterisk gives up on a silent socket after 2 s).'),
  mediaThread: z.boolean().default(true).describe('Run the AudioSocket connections and the 20 ms pacing of bot audio on a thread of their own, so work on the main thread (dialog, recognition, storage, garbage collection) never delays a frame on the wire. false keeps everything on the main thread.'),
  mediaThreadNice: z.coerce.number().int().min(-20).max(19).default(-10).describe('Niceness of the media thread on Linux: below 0 it gets the cores first when they are contended, as a real-time audio thread should (at 200 calls on 2 cores this took outbound jitter p99 from 5–7 ms to under 4). Raising a priority needs CAP_SYS_NICE (root, or AmbientCapabilities=CAP_SYS_NICE under systemd; Docker: --cap-add SYS_NICE); without it palabre says so at start-up and runs the thread at normal priority. 0 leaves it.'),
});

const ariSchema = z
  .strictObject({
    enabled: z.boolean().default(false).describe('Run the Asterisk ARI Stasis application (events WebSocket, ExternalMedia RTP) with `palabre serve`.'),
    url: z.string().trim().regex(/^https?:\/\/[^\s/]+/, 'an http(s) URL such as http://127.0.0.1:8088').default('http://127.0.0.1:8088').describe('Asterisk\'s HTTP server (http.conf, with its prefix if any); REST calls go to <url>/ari/…, events to ws(s)://…/ari/events.'),
    username: z.string().default('palabre').describe('ARI user (a `type=user` section of ari.conf).'),
    password: z.string().default('').describe('That user\'s password, sent with HTTP Basic auth; never logged.'),
    app: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, dot, dash and underscore').default('palabre').describe('Stasis application name: the dialplan sends calls with `Stasis(<app>,…)`.'),
    rtpHost: z.string().default('127.0.0.1').describe('Address the RTP sockets bind to; also the one Asterisk is told to send caller audio to unless rtpAdvertiseHost is set.'),
    rtpAdvertiseHost: z.string().optional().describe('Address Asterisk reaches palabre\'s RTP sockets at, when it differs from rtpHost (NAT, containers).'),
    rtpPortMin: z.coerce.number().int().min(1).max(65535).default(30_000).describe('Lowest UDP port for RTP (one even port per call).'),
    rtpPortMax: z.coerce.number().int().min(1).max(65535).default(30_999).describe('Highest UDP port for RTP; keep the range clear of Asterisk\'s own (rtp.conf, 10000–20000 by default).'),
    mediaEncapsulation: z.enum(['rtp', 'audiosocket']).default('rtp').describe('How externalMedia carries the call\'s audio: rtp (RTP over UDP to palabre\'s RTP ports) or audiosocket (Asterisk connects to palabre\'s AudioSocket server, which must be enabled, over TCP).'),
    audiosocketHost: z.string().trim().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):\d{1,5}$/, 'host:port, e.g. 10.0.0.7:9090 or [fd00::7]:9090').optional().describe('host:port at which Asterisk reaches palabre\'s AudioSocket server; required when mediaEncapsulation is audiosocket.'),
    format: z.enum(['slin16', 'slin', 'ulaw', 'alaw']).default('slin16').describe('Audio format asked of externalMedia: slin16 (16 kHz linear, best for recognition), slin (8 kHz), ulaw or alaw.'),
    rtpTimeoutMs: z.coerce.number().int().min(0).default(60_000).describe('A call whose RTP stops for this long is ended (Asterisk gone without a word); 0 never.'),
    welcome: z.string().default('').describe('Played to the caller before the flow starts: an Asterisk media URI (sound:hello-world, recording:greeting) played by Asterisk, or tts:<text> (tts:Hello, one moment please.) spoken by the call\'s own voice in its language over the media channel; empty plays nothing.'),
    flow: z.string().default('support-desk').describe('Flow a call runs when neither the Stasis arguments (flow=…) nor the channel variable PALABRE_FLOW name one.'),
    language: z.string().default('en').describe('Language of a call when neither language=… nor PALABRE_LANGUAGE says.'),
    transferContext: z.string().default('palabre-transfer').describe('Dialplan context a transferred caller continues in (POST /channels/{id}/continue); PALABRE_TRANSFER_TARGET holds the flow\'s target.'),
    transferExtension: z.string().default('').describe('Extension to continue at; empty uses the flow\'s transfer target (a target such as PJSIP/1001 is a redirect to that endpoint instead).'),
    transferPriority: z.coerce.number().int().min(1).default(1).describe('Priority to continue at.'),
    snoopRecord: z.array(z.enum(['in', 'both'])).default([]).describe('Asterisk-side recordings through snoop channels: `in` records the caller, `both` both directions; each becomes <app>-<channel id>-<dir> in Asterisk\'s recording directory.'),
    recordingFormat: z.string().default('wav').describe('Format of those Asterisk recordings (wav, gsm, sln16…).'),
    reconnectMinMs: z.coerce.number().int().positive().default(500).describe('First wait before reconnecting the events WebSocket; doubled on each failure.'),
    reconnectMaxMs: z.coerce.number().int().positive().default(30_000).describe('Longest wait between reconnection attempts.'),
    requestTimeoutMs: z.coerce.number().int().positive().default(5_000).describe('Longest one ARI REST request may take.'),
    setupTimeoutMs: z.coerce.number().int().positive().default(15_000).describe('Longest wait for an event while setting a call up (welcome played, a new channel entering Stasis).'),
    maxCalls: z.coerce.number().int().min(1).default(50).describe('ARI calls at once; more are hung up with cause congestion.'),
  })
  .refine((a) => a.rtpPortMin <= a.rtpPortMax, { message: 'rtpPortMin must not be above rtpPortMax', path: ['rtpPortMax'] })
  .refine((a) => a.mediaEncapsulation !== 'audiosocket' || a.audiosocketHost !== undefined, { message: 'required when mediaEncapsulation is audiosocket: the host:port at which Asterisk reaches palabre\'s AudioSocket server', path: ['audiosocketHost'] })
  // AudioSocket carries signed linear only: Asterisk would label µ-law or A-law bytes as slin.
  .refine((a) => a.mediaEncapsulation !== 'audiosocket' || a.format === 'slin16' || a.format === 'slin', { message: 'AudioSocket carries slin16 or slin only; choose one of them with mediaEncapsulation audiosocket', path: ['format'] });

const flowsSchema = z.strictObject({
  dir: z.string().default('./flows').describe('Directory of flow files (*.yaml); `palabre flows list` shows what loads.'),
});

const storeSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Keep calls, turns, events and records in the store; off runs calls without writing anything.'),
  url: z.string().default('').describe('PostgreSQL URL (postgres://user:pass@host/db); empty uses the embedded PGlite database in `<dataDir>/db`; memory:// keeps it in memory (tests).'),
  poolSize: z.coerce.number().int().min(1).max(100).default(4).describe('PostgreSQL connections the store keeps (PGlite has one).'),
  queueMax: z.coerce.number().int().min(1).default(20_000).describe('Writes waiting for the database at most; beyond, new writes are dropped (logged and counted in palabre_store_dropped_total).'),
  batchMs: z.coerce.number().int().min(1).max(10_000).default(200).describe('Queued writes are sent together at least this often (each batch is one transaction: longer saves database CPU, shorter narrows what a crash can lose).'),
  batchMax: z.coerce.number().int().min(1).max(2000).default(500).describe('Writes sent in one transaction at most; a full batch is sent at once.'),
  retries: z.coerce.number().int().min(0).max(20).default(5).describe('Attempts after the first for a batch the database refused to take (connection lost, database down), with backoff; then its writes are dropped.'),
});

const recordingsSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Record both sides of every call into one stereo WAV (caller left, bot right), written as the call goes; a flow opts out with `recording: false`.'),
  dir: z.string().default('').describe('Where recordings are kept; empty means `<dataDir>/recordings`.'),
  format: z.enum(['wav', 'ogg', 'mp3']).default('wav').describe('Format kept after the call: wav, or ogg (Opus) / mp3 converted by ffmpeg (`audio.ffmpegPath`) once the call has ended; kept as WAV when ffmpeg is missing or fails.'),
  retentionDays: z.coerce.number().min(0).default(90).describe('Days a recording is kept before the purge job deletes it (file and row); 0 keeps recordings for ever.'),
  purgeIntervalMinutes: z.coerce.number().int().min(1).default(60).describe('How often the purge job looks for expired recordings.'),
});

const preprocessSchema = z.strictObject({
  denoise: z.boolean().default(false).describe('Run the noise suppressor on uploads before recognition.'),
  normalize: z.boolean().default(false).describe('Scale uploads to a target RMS level before recognition.'),
  normalizeDbfs: z.coerce.number().max(0).default(-20).describe('Target RMS level of normalisation.'),
  trimSilence: z.boolean().default(false).describe('Cut leading and trailing silence found by the VAD.'),
  lowpassHz: z.coerce.number().min(0).default(0).describe('Low-pass filter cut-off in Hz; 0 disables it.'),
});

export const configSchema = z.strictObject({
  dataDir: z.string().default('./data').describe('Directory for everything palabre writes.'),
  server: serverSchema.default(serverSchema.parse({})),
  log: logSchema.default(logSchema.parse({})),
  audio: audioSchema.default(audioSchema.parse({})),
  engines: enginesSchema.default(enginesSchema.parse({})),
  models: modelsSchema.default(modelsSchema.parse({})),
  flows: flowsSchema.default(flowsSchema.parse({})),
  call: callSchema.default(callSchema.parse({})),
  pricing: pricingSchema.default(pricingSchema.parse({})),
  browser: browserSchema.default(browserSchema.parse({})),
  twilio: twilioSchema.default(twilioSchema.parse({})),
  audiosocket: audiosocketSchema.default(audiosocketSchema.parse({})),
  ari: ariSchema.default(ariSchema.parse({})),
  preprocess: preprocessSchema.default(preprocessSchema.parse({})),
  store: storeSchema.default(storeSchema.parse({})),
  recordings: recordingsSchema.default(recordingsSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type PreprocessOptions = z.infer<typeof preprocessSchema>;

/** The session options a call takes from the configuration. */
export function callSessionOptions(config: Config) {
  const { vad } = config.engines;
  const { apology: _apology, ...call } = config.call;
  return { ...call, turnTaking: { threshold: vad.threshold } };
}

const SECRET_KEY = /(token|secret|password|apikey|api_key|key)$/i;

type Leaf = { path: string[]; env: string; schema: z.ZodType };

function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { def: { type: string; innerType?: z.ZodType } }).def;
    if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) s = def.innerType;
    else return s;
  }
}

function typeOf(schema: z.ZodType): string {
  return (unwrap(schema) as unknown as { def: { type: string } }).def.type;
}

function envName(path: string[]): string {
  return 'PALABRE_' + path.map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_');
}

/** Every leaf setting with its env var, in declaration order. */
export function settingLeaves(schema: z.ZodType = configSchema, prefix: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  if (typeOf(inner) === 'object') {
    const shape = (inner as z.ZodObject).shape as Record<string, z.ZodType>;
    return Object.entries(shape).flatMap(([k, v]) => settingLeaves(v, [...prefix, k]));
  }
  return [{ path: prefix, env: envName(prefix), schema }];
}

type Parsed = { value: unknown } | { error: string };

const TRUE = /^(1|true|yes|on)$/i;
const FALSE = /^(0|false|no|off)$/i;
const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?$/i;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `fr=fr,en=en-us` (or `fr:fr`), or a YAML mapping such as `{fr: fr, en: en-us}`. */
function parseRecord(text: string): Parsed {
  if (text.startsWith('{') || text.includes('\n')) {
    try {
      const value: unknown = YAML.parse(text);
      return isPlainObject(value) ? { value } : { error: 'expected a mapping such as {fr: fr, en: en-us}' };
    } catch (err) {
      return { error: `not a valid YAML mapping: ${(err as Error).message.split('\n')[0]}` };
    }
  }
  const out: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const m = /^\s*([^=:\s]+)\s*[=:]\s*(\S(?:.*\S)?)\s*$/.exec(pair);
    if (!m) return { error: `expected key=value pairs separated by commas (e.g. fr=fr,en=en-us); cannot read "${pair.trim()}"` };
    out[m[1]] = m[2];
  }
  return { value: out };
}

/** An env var's text as the type its setting expects; numbers are checked later with the file's. */
function parseEnvValue(raw: string, schema: z.ZodType): Parsed {
  const text = raw.trim();
  switch (typeOf(schema)) {
    case 'array':
      return { value: text.split(',').map((s) => s.trim()).filter(Boolean) };
    case 'boolean':
      if (TRUE.test(text)) return { value: true };
      if (FALSE.test(text)) return { value: false };
      return { error: 'expected true or false (or 1/0, yes/no, on/off)' };
    case 'record':
      return parseRecord(text);
    default:
      return { value: raw };
  }
}

function getPath(target: unknown, path: string[]): unknown {
  let node = target;
  for (const key of path) node = isPlainObject(node) ? node[key] : undefined;
  return node;
}

/** Sets a leaf, creating sections on the way; a section that is not a mapping is left for zod to report. */
function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (node[key] === undefined) node[key] = {};
    if (!isPlainObject(node[key])) return;
    node = node[key];
  }
  node[path[path.length - 1]] = value;
}

/** YAML's `key:` with nothing after it (or `~`) means "not set", so the default applies. */
function dropNulls(value: unknown): unknown {
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, dropNulls(v)]));
}

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  file?: string;
  /** Applied last, for the CLI's own flags and for tests. */
  overrides?: Record<string, unknown>;
}

function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(extra)) {
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? deepMerge(b, v) : v;
  }
  return out;
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new PalabreError('config_invalid', `cannot read config file ${file}: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (err) {
    throw new PalabreError('config_invalid', `config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (!isPlainObject(parsed)) {
    const found = Array.isArray(parsed) ? 'a list' : `a ${typeof parsed}`;
    throw new PalabreError('config_invalid', `config file ${file} must be a mapping of settings (such as "server:" then "  port: 8080"), not ${found}`);
  }
  return dropNulls(parsed) as Record<string, unknown>;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length];
}

function didYouMean(word: string, candidates: Iterable<string>): string {
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? `; did you mean ${best}?` : '';
}

/** Settings one level below `prefix` (for "did you mean" on an unknown key). */
function childKeys(prefix: string[]): string[] {
  const keys = settingLeaves()
    .filter((l) => l.path.length > prefix.length && prefix.every((p, i) => l.path[i] === p))
    .map((l) => l.path[prefix.length]);
  return [...new Set(keys)];
}

interface Problem {
  path: string[];
  /** Replaces the setting path and env var, for problems that have none (an unknown key). */
  label?: string;
  message: string;
}

/** `server.port (PALABRE_SERVER_PORT="abc")`: the setting, the env var that sets it, and its text when it came from there. */
function labelOf(problem: Problem, leaves: Leaf[], envText: Map<string, string>): string {
  if (problem.label) return problem.label;
  const where = problem.path.join('.') || '(root)';
  // An issue inside a map (engines.tts.voices.fr) belongs to the map's env var.
  const leaf = leaves.find((l) => l.path.every((p, i) => problem.path[i] === p));
  if (!leaf) return where;
  const text = envText.get(leaf.path.join('.'));
  return `${where} (${leaf.env}${text === undefined ? '' : `=${JSON.stringify(text)}`})`;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env.PALABRE_CONFIG;
  const fromFile = file ? readConfigFile(file) : {};
  const problems: Problem[] = [];
  const envText = new Map<string, string>();
  const leaves = settingLeaves();
  const fromEnv: Array<[string[], unknown]> = [];
  for (const leaf of leaves) {
    const value = env[leaf.env];
    if (value === undefined || value === '') continue;
    envText.set(leaf.path.join('.'), value);
    const parsed = parseEnvValue(value, leaf.schema);
    if ('error' in parsed) problems.push({ path: leaf.path, message: parsed.error });
    else fromEnv.push([leaf.path, parsed.value]);
  }
  // A misspelt variable would otherwise be ignored without a word.
  const known = new Set(['PALABRE_CONFIG', ...leaves.map((l) => l.env)]);
  for (const name of Object.keys(env)) {
    if (name.startsWith('PALABRE_') && !known.has(name) && env[name] !== undefined) {
      problems.push({ path: [], label: name, message: `unknown environment variable${didYouMean(name, known)}` });
    }
  }
  // An env var replaces its whole setting (a `voices` map too) rather than merging into the file's.
  const merged = structuredClone(fromFile);
  for (const [path, value] of fromEnv) setPath(merged, path, value);
  const raw = deepMerge(merged, structuredClone(options.overrides ?? {}));
  // Zod's coercion would turn true into 1 and "" or "0x10" into numbers: only real numbers pass.
  for (const leaf of leaves) {
    if (typeOf(leaf.schema) !== 'number') continue;
    const value = getPath(raw, leaf.path);
    if (value === undefined || typeof value === 'number') continue;
    if (typeof value === 'string' && NUMBER.test(value.trim())) setPath(raw, leaf.path, Number(value));
    else problems.push({ path: leaf.path, message: `expected a number, got ${JSON.stringify(value)}` });
  }
  const parsed = configSchema.safeParse(raw);
  const reported = new Set(problems.map((p) => p.path.join('.')));
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    const path = issue.path.map(String);
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        const where = file ? ` in ${file}` : '';
        problems.push({ path: [...path, key], label: [...path, key].join('.'), message: `unknown setting${where}${didYouMean(key, childKeys(path))}` });
      }
    } else if (!reported.has(path.join('.'))) {
      problems.push({ path, message: issue.message });
    }
  }
  if (problems.length > 0) throw new PalabreError('config_invalid', `invalid configuration:\n${problems.map((p) => `  ${labelOf(p, leaves, envText)}: ${p.message}`).join('\n')}`);
  return parsed.data as Config;
}

/** A copy safe to print or log: secret values, and passwords inside URLs, replaced by "***". */
export function maskSecrets<T>(value: T, key = ''): T {
  if (Array.isArray(value)) return value.map((v) => maskSecrets(v)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, k)])) as T;
  }
  if (typeof value === 'string' && value !== '' && SECRET_KEY.test(key)) return '***' as T;
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) {
    return value.replace(/^([a-z][a-z0-9+.-]*:\/\/[^/:@\s]*):[^/@\s]*@/i, '$1:***@') as T;
  }
  return value;
}

const ENV_FORMAT: Record<string, string> = {
  array: ' In the env var: comma-separated.',
  record: ' In the env var: `fr=fr,en=en-us` or `{fr: fr, en: en-us}`.',
  boolean: ' In the env var: true/false, 1/0, yes/no or on/off.',
};

/** Markdown table of every setting, its env var, default and description (docs/configuration.md). */
export function describeSettings(): string {
  const defaults = configSchema.parse({});
  const rows = settingLeaves().map((leaf) => {
    const def = getPath(defaults, leaf.path);
    const shown = def === undefined ? '(unset)' : JSON.stringify(def);
    const meaning = (leaf.schema.description ?? '') + (ENV_FORMAT[typeOf(leaf.schema)] ?? '');
    return `| \`${leaf.path.join('.')}\` | \`${leaf.env}\` | \`${shown}\` | ${meaning.trim()} |`;
  });
  return ['| setting | env var | default | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

/** This process's name among the servers sharing a database (`server.instanceId`). */
export function instanceIdOf(config: Pick<Config, 'server'>): string {
  return config.server.instanceId ?? `${hostname()}:${config.server.port}`;
}
