/**
 * What a call used of each engine: requests, errors, audio seconds,
 * characters, tokens. Counted by thin wrappers around the engines the call
 * holds (so a fallback is billed to the engine that did the work), stored
 * with the call, exported as Prometheus counters, and priced by an optional
 * table.
 */
import type { ChatMessage, ChatOptions, DialogLlm } from '../dialog/llm.js';
import type { Llm } from './llm/types.js';
import type { Stt, SttStream } from './stt/types.js';
import type { Tts } from './tts/types.js';

export type UsageKind = 'stt' | 'tts' | 'llm';

export interface EngineUsage {
  kind: UsageKind;
  engine: string;
  requests: number;
  errors: number;
  /** Audio sent to a recogniser, or produced by a voice. */
  audioSeconds: number;
  /** Text sent to a voice, or written by a model. */
  characters: number;
  promptTokens: number;
  completionTokens: number;
}

export class CallUsage {
  private readonly byEngine = new Map<string, EngineUsage>();

  add(kind: UsageKind, engine: string, delta: Partial<Omit<EngineUsage, 'kind' | 'engine'>>): void {
    const key = `${kind}:${engine}`;
    let u = this.byEngine.get(key);
    if (!u) this.byEngine.set(key, (u = { kind, engine, requests: 0, errors: 0, audioSeconds: 0, characters: 0, promptTokens: 0, completionTokens: 0 }));
    u.requests += delta.requests ?? 0;
    u.errors += delta.errors ?? 0;
    u.audioSeconds += delta.audioSeconds ?? 0;
    u.characters += delta.characters ?? 0;
    u.promptTokens += delta.promptTokens ?? 0;
    u.completionTokens += delta.completionTokens ?? 0;
  }

  /** One entry per engine used, audio rounded to the millisecond. */
  snapshot(): EngineUsage[] {
    return [...this.byEngine.values()].map((u) => ({ ...u, audioSeconds: Math.round(u.audioSeconds * 1000) / 1000 }));
  }
}

/** A property of the wrapped engine, methods bound to it (class private fields do not survive a Proxy receiver). */
function passThrough(target: object, prop: string | symbol): unknown {
  const value: unknown = Reflect.get(target, prop, target);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

function isAbort(err: unknown): boolean {
  return (err as { code?: string })?.code === 'aborted' || (err as Error)?.name === 'AbortError';
}

/**
 * The same engine, counting into `usage`. A Proxy, so that whatever else an
 * engine offers (voice resolution, alignment, format options) passes through.
 */
export function meteredStt(stt: Stt, usage: CallUsage): Stt {
  const count = (delta: Parameters<CallUsage['add']>[2]) => usage.add('stt', stt.name, delta);
  return new Proxy(stt, {
    get(target, prop) {
      if (prop === 'transcribe') {
        return async (...args: Parameters<Stt['transcribe']>) => {
          const [audio] = args;
          count({ requests: 1, audioSeconds: audio.samples.length / audio.sampleRate });
          try {
            return await target.transcribe(...args);
          } catch (err) {
            if (!isAbort(err)) count({ errors: 1 });
            throw err;
          }
        };
      }
      if (prop === 'stream' && target.stream) {
        return (...args: Parameters<NonNullable<Stt['stream']>>): SttStream => {
          count({ requests: 1 });
          const inner = target.stream!(...args);
          // A stream fails once, wherever it shows: on a push, in its events, or at finish.
          let failed = false;
          // Audio is summed here and counted once at the end: push runs every 20 ms for every call.
          let samples = 0;
          let rate = 0;
          const settle = (): void => {
            if (samples > 0) count({ audioSeconds: samples / rate });
            samples = 0;
          };
          const failure = (err: unknown): unknown => {
            if (!failed && !isAbort(err)) count({ errors: 1 });
            failed = true;
            return err;
          };
          return {
            push(frame) {
              samples += frame.samples.length;
              rate = frame.sampleRate;
              try {
                inner.push(frame);
              } catch (err) {
                throw failure(err);
              }
            },
            async *events() {
              try {
                yield* inner.events();
              } catch (err) {
                throw failure(err);
              }
            },
            async finish() {
              settle();
              try {
                return await inner.finish();
              } catch (err) {
                throw failure(err);
              }
            },
            close: () => {
              settle();
              inner.close();
            },
          };
        };
      }
      return passThrough(target, prop);
    },
  });
}

export function meteredTts(tts: Tts, usage: CallUsage): Tts {
  const count = (delta: Parameters<CallUsage['add']>[2]) => usage.add('tts', tts.name, delta);
  return new Proxy(tts, {
    get(target, prop) {
      if (prop !== 'synthesize') return passThrough(target, prop);
      return async function* (...args: Parameters<Tts['synthesize']>) {
        count({ requests: 1, characters: args[0].length });
        try {
          for await (const chunk of target.synthesize(...args)) {
            count({ audioSeconds: chunk.samples.length / chunk.sampleRate });
            yield chunk;
          }
        } catch (err) {
          if (!isAbort(err)) count({ errors: 1 });
          throw err;
        }
      };
    },
  });
}

function hasStream(llm: DialogLlm): llm is Llm {
  return typeof (llm as Partial<Llm>).stream === 'function';
}

/**
 * A chat model counting requests, characters written and, when the server
 * reports them, tokens. A full Llm stays one: `stream` (tools) and `json`
 * (structured answers) are counted and passed on.
 */
export function meteredLlm(llm: DialogLlm, usage: CallUsage): DialogLlm {
  const name = (llm as Partial<Llm>).name ?? 'llm';
  const count = (delta: Parameters<CallUsage['add']>[2]) => usage.add('llm', name, delta);
  if (hasStream(llm)) {
    const full: Llm = {
      name: llm.name,
      model: llm.model,
      chat: (messages, options) => countedChat(messages, options),
      async *stream(messages, options) {
        count({ requests: 1 });
        try {
          for await (const item of llm.stream(messages, options)) {
            if (item.type === 'text') count({ characters: item.text.length });
            else if (item.type === 'usage') count({ promptTokens: item.promptTokens, completionTokens: item.completionTokens });
            yield item;
          }
        } catch (err) {
          if (!isAbort(err)) count({ errors: 1 });
          throw err;
        }
      },
      async json(messages, options) {
        count({ requests: 1 });
        try {
          return await llm.json(messages, options);
        } catch (err) {
          if (!isAbort(err)) count({ errors: 1 });
          throw err;
        }
      },
    };
    return full;
  }
  return { chat: (messages, options) => countedChat(messages, options) };

  async function* countedChat(messages: ChatMessage[], options?: ChatOptions): AsyncGenerator<string> {
    count({ requests: 1 });
    try {
      if (hasStream(llm)) {
        // The item stream carries the token counts the text stream drops.
        for await (const item of llm.stream(messages, options)) {
          if (item.type === 'text') {
            count({ characters: item.text.length });
            yield item.text;
          } else if (item.type === 'usage') count({ promptTokens: item.promptTokens, completionTokens: item.completionTokens });
        }
        return;
      }
      for await (const delta of llm.chat(messages, options)) {
        count({ characters: delta.length });
        yield delta;
      }
    } catch (err) {
      if (!isAbort(err)) count({ errors: 1 });
      throw err;
    }
  }
}

/** Prices per engine name, per kind; an engine absent from the table costs nothing (a local one). */
export interface PriceTable {
  currency: string;
  stt: Record<string, { perMinute?: number; perRequest?: number }>;
  tts: Record<string, { perThousandCharacters?: number; perRequest?: number }>;
  llm: Record<string, { perMillionPromptTokens?: number; perMillionCompletionTokens?: number; perRequest?: number }>;
}

export interface CallCost {
  currency: string;
  total: number;
  byEngine: Record<string, number>;
}

export function costOf(usage: readonly EngineUsage[], prices: PriceTable): CallCost {
  const byEngine: Record<string, number> = {};
  let total = 0;
  for (const u of usage) {
    let cost: number;
    if (u.kind === 'stt') {
      const p = prices.stt[u.engine];
      cost = (p?.perMinute ?? 0) * (u.audioSeconds / 60) + (p?.perRequest ?? 0) * u.requests;
    } else if (u.kind === 'tts') {
      const p = prices.tts[u.engine];
      cost = ((p?.perThousandCharacters ?? 0) * u.characters) / 1000 + (p?.perRequest ?? 0) * u.requests;
    } else {
      const p = prices.llm[u.engine];
      cost = ((p?.perMillionPromptTokens ?? 0) * u.promptTokens + (p?.perMillionCompletionTokens ?? 0) * u.completionTokens) / 1e6 + (p?.perRequest ?? 0) * u.requests;
    }
    // Sub-cent amounts add up over thousands of calls: keep six decimals.
    byEngine[`${u.kind}:${u.engine}`] = Math.round(cost * 1e6) / 1e6;
    total += cost;
  }
  return { currency: prices.currency, total: Math.round(total * 1e6) / 1e6, byEngine };
}
