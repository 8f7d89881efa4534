import type { MessagePort } from 'node:worker_threads';
import type { EspeakParams } from './styles.js';
import { WorkerHost, type WorkerEnv, type WorkerLoader } from './worker-host.js';
import type { RawEspeakVoice } from './espeak-voices.js';

/**
 * espeak-ng compiled to WASM (`@echogarden/espeak-ng-emscripten`, GPL-3.0), run in a
 * worker thread. The module holds one global synthesiser, so requests are served one
 * at a time: at about 0.005 × real time per request that is some 200 seconds of speech
 * per second of CPU, far above what one server's calls can ask for.
 */

export const ESPEAK_WASM_PACKAGE = '@echogarden/espeak-ng-emscripten';

/**
 * This build reads its input as SSML (a `<break time="9s"/>` in a caller's text would be
 * obeyed), while the program reads plain text: escaping the three markup characters makes
 * both back-ends speak exactly the text they were given.
 */
export function escapeForSsml(text: string): string {
  return text.replace(/&/gu, '&amp;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

export interface EspeakWasmJob extends EspeakParams {
  text: string;
  /** espeak voice identifier, e.g. `roa/fr`. */
  voice: string;
}

export interface EspeakWasmInfo {
  voices: RawEspeakVoice[];
  sampleRate: number;
}

/** Runs inside the worker; self-contained by necessity (see WorkerMain). */
export function espeakWorkerMain(port: MessagePort, env: WorkerEnv, loader: WorkerLoader): void {
  interface Synth {
    list_voices(): Array<{ name: string; identifier: string; languages: Array<{ priority: number; name: string }> }>;
    set_voice(name: string): number;
    set_rate(v: number): void;
    set_pitch(v: number): void;
    set_volume(v: number): void;
    set_range(v: number): void;
    get_samplerate(): number;
    synthesize(text: string, cb: (samples: Int16Array) => boolean): void;
  }
  interface Job {
    id: number;
    job: { text: string; voice: string; rate: number; pitch: number; amplitude: number; range: number };
  }
  const start = async (): Promise<void> => {
    const mod = (await loader.importModule(env.moduleUrl)) as { default: () => Promise<{ eSpeakNGWorker: new () => Synth }> };
    const m = await mod.default();
    const synth = new m.eSpeakNGWorker();
    let currentVoice = '';
    port.on('message', ({ id, job }: Job) => {
      try {
        if (job.voice !== currentVoice) {
          const rc = synth.set_voice(job.voice);
          if (rc !== 0) {
            currentVoice = '';
            port.postMessage({ type: 'error', id, badInput: true, message: `voice '${job.voice}' could not be loaded (espeak error ${rc})` });
            return;
          }
          currentVoice = job.voice;
        }
        synth.set_rate(job.rate);
        synth.set_pitch(job.pitch);
        synth.set_volume(job.amplitude);
        synth.set_range(job.range);
        synth.synthesize(job.text, (samples) => {
          // Returning true makes espeak stop this synthesis at once.
          if (Atomics.load(env.cancel, 0) === id) return true;
          if (samples.length > 0) port.postMessage({ type: 'chunk', id, chunk: samples }, [samples.buffer as ArrayBuffer]);
          return false;
        });
        port.postMessage({ type: 'done', id });
      } catch (e) {
        port.postMessage({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
      }
    });
    port.postMessage({ type: 'ready', info: { voices: synth.list_voices(), sampleRate: synth.get_samplerate() } });
  };
  start().catch((e: unknown) => port.postMessage({ type: 'fatal', message: e instanceof Error ? e.message : String(e) }));
}

export function createEspeakWasmHost(moduleUrl: string, maxQueue: number): WorkerHost<EspeakWasmInfo, EspeakWasmJob, Int16Array> {
  return new WorkerHost<EspeakWasmInfo, EspeakWasmJob, Int16Array>('espeak-ng (wasm)', espeakWorkerMain, moduleUrl, {
    maxQueue,
    startTimeoutMs: 30_000,
  });
}
