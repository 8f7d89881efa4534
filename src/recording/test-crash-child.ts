/**
 * A call being recorded in a process of its own, for test/recording.test.ts:
 * `crash` records until the test kills it (SIGKILL), `limited` runs a 5 s call
 * under a file-size limit (the disk filling up mid-call) and reports how the
 * call and the recorder fared. Caller frame k carries the level k + 1 in every
 * sample, so the test can tell exactly how far the file got.
 * Usage: tsx src/recording/test-crash-child.ts <dir> crash|limited
 */
import { FRAME_MS, PIPELINE_RATE } from '../audio/frame.js';
import { createMemoryIO } from '../call/memory-io.js';
import { createLogger } from '../log.js';
import { createRecordingObserver } from './observer.js';
import type { RecordingInfo } from './sink.js';

const [dir, mode] = process.argv.slice(2);
if (!dir || (mode !== 'crash' && mode !== 'limited')) {
  process.stderr.write('usage: test-crash-child.ts <dir> crash|limited\n');
  process.exit(2);
}
// Past the file-size limit writes fail with EFBIG instead of the signal killing the process.
process.on('SIGXFSZ', () => undefined);

const say = (message: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(message)}\n`);
};

const frameSize = (PIPELINE_RATE * FRAME_MS) / 1000;
const totalFrames = mode === 'crash' ? 3000 : 250;
const callerAudio = new Int16Array(totalFrames * frameSize);
for (let k = 0; k < totalFrames; k++) callerAudio.fill(k + 1, k * frameSize, (k + 1) * frameSize);

const io = createMemoryIO({ id: `child-${mode}`, afterScript: 'hangup' });
const observer = createRecordingObserver({
  dir,
  format: 'wav',
  logger: createLogger('error', { stream: 'stderr' }),
  flushMs: 200,
  sink: {
    started: async (info: RecordingInfo) => say({ started: info.path }),
    finished: async (info: RecordingInfo) => say({ finished: info }),
    converted: async () => undefined,
  },
});
const observation = observer.open(io.id, { transport: 'simulate', flow: 'test', language: 'en' }, io, createLogger('error', { stream: 'stderr' }));
if (!observation?.io) throw new Error('the recorder did not wrap the IO');
const tap = observation.io;
void io.say({ samples: callerAudio, sampleRate: PIPELINE_RATE });

let frames = 0;
for await (const _frame of tap.frames()) {
  frames++;
  // The bot answers now and then: 10 frames of a level of its own.
  if (frames % 50 === 1) for (let i = 0; i < 10; i++) tap.write({ samples: new Int16Array(frameSize).fill(-(frames + i)), sampleRate: PIPELINE_RATE });
  if (frames % 5 === 0) say({ frames });
}
await observation.finish?.(undefined);
await observer.settled();
say({ done: { frames, counters: observer.counters } });
