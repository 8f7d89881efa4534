/**
 * One PocketSphinx decoder in its own thread: decoding is synchronous C code
 * (about 0.2 s of CPU per second of audio), and here it cannot stall the
 * server's event loop. Jobs arrive one at a time; the pool never sends a
 * second job before the first has answered.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PalabreError } from '../../errors.js';
import { PsDecoder, type RawDecode } from './pocketsphinx-ffi.js';
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

function decode(msg: Extract<ToWorker, { type: 'decode' }>): void {
  if (cancelled(msg.id)) {
    post({ type: 'error', id: msg.id, error: { code: 'aborted', message: 'transcription was cancelled' } });
    return;
  }
  const { skipped } = decoder.useSearch(msg.search);
  try {
    post({ type: 'result', id: msg.id, raw: decodeWhole(msg.samples, skipped) });
  } finally {
    decoder.resetSearch();
  }
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
      stream = { id: msg.id, skipped, partialEvery: msg.partialEverySamples, sinceHyp: 0, lastPartial: '', kept: msg.rescore ? [] : undefined };
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
      const { kept, skipped } = stream;
      stream = undefined;
      try {
        // The live pass gave the partials; the final comes from the same whole-utterance pass a batch request uses.
        const raw = kept ? decodeWhole(concat(kept), skipped) : decoder.finish(skipped);
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
