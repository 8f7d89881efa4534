/**
 * A language-model reply with cloud-protocol engines on loopback: the model
 * (an OpenAI-compatible server streaming its answer at once) and the voice
 * (an ElevenLabs-compatible server) answer as fast as they can, so what is
 * left is palabre's own time from the STT final to the first audio frame out:
 * the dialog (intent chain), cutting the streamed reply into sentences, the
 * phrase cache, framing and pacing. Target: p95 under 20 ms beyond the
 * engines' own time (the model's first delta, the voice's first chunk).
 *
 * Runs on the fast clock (idle waits skipped, engine time real), like the
 * `call` bench, with real PocketSphinx recognising a flite caller.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestEngines, speech, startCall } from '../src/call/test-support.js';
import { parseFlow } from '../src/dialog/loader.js';
import type { ChatMessage, ChatOptions, DialogLlm } from '../src/dialog/llm.js';
import { createDialogRuntime } from '../src/dialog/runtime.js';
import { phraseClassifier } from '../src/dialog/test-support.js';
import { createOpenAiLlm } from '../src/engines/llm/openai.js';
import { cleanupSpeech } from '../src/engines/stt/test-support.js';
import { createElevenLabsTts } from '../src/engines/tts/elevenlabs.js';
import { PhraseCache } from '../src/engines/tts/phrase-cache.js';
import { FAKE_EN_VOICE, startFakeElevenLabs } from '../test/support/fake-elevenlabs.js';
import { startFakeOpenAi } from '../test/support/fake-openai.js';

interface Ctx {
  quick: boolean;
  print: (line: string) => void;
}

const CALLER = ['my internet stopped working', 'the light on the box is red', 'i restarted it twice already', 'yes i am at home now'];

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const ms = (v: number): string => `${v.toFixed(1)} ms`;

/** The model, with the time of each request and of its first text delta (the model's own latency). */
function timedLlm(inner: DialogLlm, now: () => number): DialogLlm & { firsts: number[] } {
  const firsts: number[] = [];
  return {
    firsts,
    async *chat(messages: ChatMessage[], options?: ChatOptions) {
      const asked = now();
      let first = true;
      for await (const delta of inner.chat(messages, options)) {
        if (first) firsts.push(now() - asked);
        first = false;
        yield delta;
      }
    },
  };
}

export default async function bench(ctx: Ctx): Promise<void> {
  const { print, quick } = ctx;
  const dir = mkdtempSync(join(tmpdir(), 'palabre-bench-reply-'));
  writeFileSync(join(dir, 'agent.md'), 'You help callers with their internet connection.');
  let n = 0;
  // Each answer differs, so the voice synthesises it afresh (no phrase-cache hit).
  const openai = await startFakeOpenAi({ reply: () => `I see, thank you for telling me, case ${++n}. Could you tell me what the lights on your box show right now? Take your time.` });
  const elevenlabs = await startFakeElevenLabs({ apiKey: 'bench-key' });
  const engines = await loadTestEngines();
  try {
    const tts = await createElevenLabsTts({ apiKey: 'bench-key', baseUrl: elevenlabs.baseUrl, voiceId: FAKE_EN_VOICE, withTimestamps: true });
    const flow = await parseFlow(
      `
id: bench-reply
languages: [en]
start: TALK
states:
  TALK:
    llm: { prompt: agent.md, system: You are a support agent., style: neutre }
    listen: { endpointing: { mode: silence, silence_ms: 600 }, no_input_ms: 20000 }
`,
      { file: 'bench-reply.yaml', llmAvailable: true, baseDir: dir },
    );
    const runCall = async (turns: number) => {
      const llm = timedLlm(createOpenAiLlm({ baseUrl: openai.baseUrl, model: 'bench-model', timeoutMs: 10_000 }), () => performance.now());
      const dialog = createDialogRuntime(flow, { language: 'en', classifier: phraseClassifier({}), llm });
      const call = startCall({ vad: engines.vad, stt: engines.stt, tts, cache: new PhraseCache({ resampler: engines.resampler }), resampler: engines.resampler }, dialog);
      const audio = await Promise.all(CALLER.map((t) => speech(t)));
      void call.io.waitForBot('silent', { quietMs: 200 });
      for (let i = 0; i < turns; i++) {
        void call.io.waitForBot('speaking');
        void call.io.waitForBot('silent', { quietMs: 200 });
        void call.io.say(audio[i % audio.length]);
      }
      void call.io.waitForBot('speaking').then(() => call.io.waitForBot('silent', { quietMs: 200 })).then(() => call.session.end('caller_hangup'));
      const summary = await call.summary;
      // The first model request opens the call; each later one answers a turn, in order.
      const llmFirst = llm.firsts.slice(1);
      const rows: Array<{ own: number; total: number; llm: number; tts: number }> = [];
      summary.turns
        .filter((t) => t.kind === 'speech' && t.sttFinalMs !== undefined && t.firstAudioOutMs !== undefined)
        .forEach((t, i) => {
          const total = t.firstAudioOutMs! - t.sttFinalMs!;
          const model = llmFirst[i] ?? 0;
          const voice = (t.firstTtsAudioMs ?? 0) - (t.ttsRequestMs ?? 0);
          rows.push({ own: total - model - voice, total, llm: model, tts: voice });
        });
      return rows;
    };
    await runCall(1); // warm-up: decoders, ORT, sockets
    const rows = await runCall(quick ? 4 : 16);
    const own = rows.map((r) => r.own);
    print(`LLM reply over loopback fakes (OpenAI-compatible streaming model, ElevenLabs-compatible voice), ${rows.length} turns, fast clock:`);
    print(`  palabre's own time, STT final → first audio frame out minus the model's first delta and the voice's first chunk: p50 ${ms(pct(own, 50))}, p95 ${ms(pct(own, 95))}, max ${ms(Math.max(...own))} (target p95 < 20 ms)`);
    print(
      `  whole: STT final → first audio p50 ${ms(pct(rows.map((r) => r.total), 50))}; model first delta p50 ${ms(pct(rows.map((r) => r.llm), 50))}; voice first chunk p50 ${ms(pct(rows.map((r) => r.tts), 50))}`,
    );
  } finally {
    await engines.close();
    await Promise.allSettled([openai.close(), elevenlabs.close()]);
    rmSync(dir, { recursive: true, force: true });
    cleanupSpeech();
  }
}
