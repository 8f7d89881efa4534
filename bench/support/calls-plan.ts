/**
 * One run of the call benchmark in a process of its own (`tsx calls-plan.ts
 * <transport> <calls> <seconds> [scripted|deepgram] [local|elevenlabs]`), so
 * that the memory a run leaves behind is never the next run's baseline. Prints
 * the figures on stdout.
 */
import { runCallsBench } from '../calls.js';
import type { BenchTransport } from './drivers/lines.js';

const [transport, calls, seconds, recognition, voice] = process.argv.slice(2);
await runCallsBench({
  transport: transport as BenchTransport,
  calls: Number(calls),
  seconds: Number(seconds),
  recognition: recognition === 'deepgram' ? 'deepgram' : 'scripted',
  voice: voice === 'elevenlabs' ? 'elevenlabs' : 'local',
  print: (line) => console.log(line),
});
process.exit(0);
