/**
 * One PocketSphinx decoder in its own thread: decoding is synchronous C code
 * (about 0.2 s of CPU per second of audio), and here it cannot stall the
 * server's event loop. Jobs arrive one at a time; the pool never sends a
 * second job before the first has answered.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PalabreError } from '../../errors.js';
import { PsDecoder, type RawDecode, type SearchSpec } from './pocketsphinx-ffi.js';
import type { FromWorker, ToWorker, WireError, WorkerInit } from './pocketsphinx-protocol.js';

const port = parentPort;
if (!port) throw new Error('pocketsphinx-worker.ts must run in a worker thread');
const init = workerData as WorkerInit;
const cancel = new Int32Array(init.cancel);

function post(msg: FromWorker): void {
  port!.postMessage(msg);
}

function wire(err: unknown): WireError {
  if (err instanceof PalabreError) return { code: err.code, message: err.message, details: err.details };
  return { code: 'engine_failed', message: `PocketSphinx failed: ${(err as Error)?.message ?? String(err)}` };
}

let decoder: PsDecoder;
try {
  decoder = new PsDecoder(init.paths);
  post({ type: 'ready', resetsCmn: decoder.resetsCmn });
} catch (err) {
  post({ type: 'fatal', error: wire(err) });
  throw err;
}

interface StreamState {
  id: number;
  search: SearchSpec;
  skipped: string[];
  partialEvery: number;
  sinceHyp: number;
  lastPartial: string;
  /** The stream's audio, kept when the final result comes from a whole-utterance pass. */
  kept?: Int16Array[];
}
let stream: StreamState | undefined;

function cancelled(id: number): boolean {
  return Atomics.load(cancel, 0) === id;
}

/** One whole utterance in one call (batch CMN); the C search cannot be interrupted once started. */
function decodeWhole(samples: Int16Array, skipped: string[]): RawDecode {
  decoder.start();
  decoder.process(samples, true);
  return decoder.finish(skipped);
}

/**
 * Hints bias the answer; they do not restrict it. The open language model
 * hears the utterance first; only when what it heard is about as short as
 * the longest hint (a yes/no, a short choice) is the utterance decoded again
 * against the hint phrases, which corrects PocketSphinx's usual slips on
 * short words ("yes yeah", "yet"). A longer answer ("my name is John
 * Smith" where "my name is" is a hint) keeps the open model's words.
 */
function decodeSearch(samples: Int16Array, search: SearchSpec): RawDecode {
  if (search.kind === 'hints') {
    decoder.resetSearch();
    const open = decodeWhole(samples, []);
    const longestHint = Math.max(...search.phrases.map((p) => p.length));
    const heard = open.hyp.split(/\s+/).filter(Boolean).length;
    if (heard > longestHint + 1) return open;
  }
  const { skipped } = decoder.useSearch(search);
  try {
    return decodeWhole(samples, skipped);
  } finally {
    decoder.resetSearch();
  }
}

function decode(msg: Extract<ToWorker, { type: 'decode' }>): void {
  if (cancelled(msg.id)) {
    post({ type: 'error', id: msg.id, error: { code: 'aborted', message: 'transcription was cancelled' } });
    return;
  }
  post({ type: 'result', id: msg.id, raw: decodeSearch(msg.samples, msg.search) });
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function handle(msg: ToWorker): void {
  switch (msg.type) {
    case 'decode':
      decode(msg);
      return;
    case 'start': {
      if (stream) decoder.resetSearch();
      stream = undefined;
      const { skipped } = decoder.useSearch(msg.search);
      decoder.start();
      stream = { id: msg.id, search: msg.search, skipped, partialEvery: msg.partialEverySamples, sinceHyp: 0, lastPartial: '', kept: msg.rescore ? [] : undefined };
      post({ type: 'started', id: msg.id, skipped });
      return;
    }
    case 'push': {
      if (!stream || stream.id !== msg.id) return; // a push racing a cancel: the stream is gone, drop it
      decoder.process(msg.samples);
      stream.kept?.push(msg.samples);
      stream.sinceHyp += msg.samples.length;
      if (stream.sinceHyp >= stream.partialEvery) {
        stream.sinceHyp = 0;
        const text = decoder.hypothesis();
        if (text !== stream.lastPartial) {
          stream.lastPartial = text;
          post({ type: 'partial', id: msg.id, text });
        }
      }
      return;
    }
    case 'end': {
      if (!stream || stream.id !== msg.id) throw new PalabreError('engine_failed', `stream ${msg.id} is not running on this decoder`);
      const { kept, skipped, search } = stream;
      stream = undefined;
      try {
        // The live pass gave the partials; the final comes from the same whole-utterance pass a batch request uses.
        let raw = decoder.finish(skipped);
        if (kept) {
          decoder.resetSearch();
          raw = decodeSearch(concat(kept), search);
        }
        post({ type: 'result', id: msg.id, raw });
      } finally {
        decoder.resetSearch();
      }
      return;
    }
    case 'cancel':
      if (stream?.id === msg.id) {
        stream = undefined;
        decoder.resetSearch();
      }
      post({ type: 'cancelled', id: msg.id });
      return;
  }
}

port.on('message', (msg: ToWorker) => {
  try {
    handle(msg);
  } catch (err) {
    if (msg.type !== 'decode' && stream?.id === msg.id) {
      stream = undefined;
      try {
        decoder.resetSearch();
      } catch {
        /* the error below already says what went wrong */
      }
    }
    post({ type: 'error', id: msg.id, error: wire(err) });
  }
});
