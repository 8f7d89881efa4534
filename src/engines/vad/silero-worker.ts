/**
 * The Silero VAD worker thread: owns the ONNX session and runs the batches the
 * main thread packs, so ORT's synchronous run() never stalls the event loop
 * that paces call audio. Stateless between batches: every stream's recurrent
 * state travels with its window.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { PalabreError } from '../../errors.js';
import { setThreadNice } from '../../util/thread-priority.js';
import type { FromSileroWorker, SileroWorkerInit, ToSileroWorker } from './silero-protocol.js';
import { SileroSession } from './silero-session.js';

const port = parentPort;
if (!port) throw new Error('silero-worker.ts is a worker thread entry point, not a module to import');

function send(msg: FromSileroWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

/** ORT may hand back arrays over memory it owns; a copy is ours to transfer. */
function own(data: Float32Array): Float32Array {
  return new Float32Array(data);
}

/**
 * Lowers this thread's priority: when the cores are contended, the threads
 * that pace call audio then run first; VAD results may come a few ms later,
 * which turn-taking measured in hundreds of ms does not notice. Only > 0, so
 * it never needs privileges.
 */
function lowerPriority(nice: number): number | undefined {
  if (!(nice > 0)) return undefined;
  const done = setThreadNice(nice);
  return done.ok ? nice : undefined;
}

async function serve(port: MessagePort): Promise<void> {
  const { modelPath, nice } = workerData as SileroWorkerInit;
  const niceness = lowerPriority(nice);
  let session: SileroSession;
  try {
    session = await SileroSession.open(modelPath);
  } catch (err) {
    // The main thread terminates this thread once it has read why.
    send({ type: 'fatal', code: 'engine_unavailable', message: err instanceof PalabreError ? err.message : String(err) });
    return;
  }
  port.on('message', (msg: ToSileroWorker) => {
    session.run(msg).then(
      (out) => {
        const probabilities = own(out.probabilities);
        const state = own(out.state);
        send({ type: 'result', id: msg.id, probabilities, state }, [probabilities.buffer as ArrayBuffer, state.buffer as ArrayBuffer]);
      },
      (err: unknown) => send({ type: 'failed', id: msg.id, message: (err as Error).message }),
    );
  });
  send({ type: 'ready', nice: niceness });
}

await serve(port);
