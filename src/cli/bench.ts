/**
 * `palabre bench calls`: many concurrent simulated calls through a real
 * transport, with pacing, lag, CPU, memory and latency figures. The benchmark
 * itself lives in bench/ with its simulated callers and scripted recognition,
 * which are not part of the package: the command runs from a source checkout.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { PalabreError } from '../errors.js';
import { configFor } from './context.js';

/** What bench/calls.ts exports, as far as this command uses it. */
interface CallsBenchModule {
  runCallsBench(options: { transport: string; calls: number; seconds: number; rampMs?: number; config?: unknown; recognition?: string; voice?: string; print: (line: string) => void }): Promise<unknown>;
}

const BENCH_MODULE = fileURLToPath(new URL('../../bench/calls.ts', import.meta.url));

function positiveInt(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number ≥ 1`);
    return n;
  };
}

async function loadCallsBench(): Promise<CallsBenchModule> {
  if (!existsSync(BENCH_MODULE)) {
    throw new PalabreError('not_found', `the call benchmark runs from a source checkout (bench/ is not in the npm package): git clone the repository, then npm run palabre -- bench calls …`);
  }
  try {
    // A path known only at run time, so the package build does not pull bench/ in.
    return (await import(pathToFileURL(BENCH_MODULE).href)) as CallsBenchModule;
  } catch (err) {
    throw new PalabreError('engine_unavailable', `cannot load the call benchmark (${(err as Error).message}); it is TypeScript: run it as npm run palabre -- bench calls …`);
  }
}

export function benchCommand(): Command {
  const bench = new Command('bench').description('benchmarks that need a running server (from a source checkout)');
  bench
    .command('calls')
    .description('N simulated callers stream speech at real-time pace through a transport into support-desk (VAD on, scripted recognition); prints pacing jitter, late and dropped frames, inbound lag, CPU, memory per call and turn latencies')
    .addOption(new Option('-t, --transport <name>', 'transport to drive (rtp: Asterisk ARI + ExternalMedia RTP, against an emulated Asterisk)').choices(['audiosocket', 'twilio', 'rtp']).makeOptionMandatory())
    .option('-n, --calls <n>', 'concurrent calls', positiveInt('--calls'), 50)
    .option('-s, --seconds <s>', 'length of the measurement window', positiveInt('--seconds'), 60)
    .option('--ramp-ms <ms>', 'dial the callers over this long (default 25 ms per call, at most 5 s)', positiveInt('--ramp-ms'))
    .addOption(new Option('--stt <source>', "recognition: scripted (in process), or the same answers over Deepgram's live protocol from a loopback server").choices(['scripted', 'deepgram']).default('scripted'))
    .addOption(new Option('--tts <voice>', 'voice: the configured local engine, or ElevenLabs against a loopback server speaking its protocol').choices(['local', 'elevenlabs']).default('local'))
    .option('--json', 'print the figures as JSON after the summary')
    .action(async (opts: { transport: string; calls: number; seconds: number; rampMs?: number; stt: string; tts: string; json?: boolean }, command: Command) => {
      const config = configFor(command);
      const { runCallsBench } = await loadCallsBench();
      const out = (line: string): void => void process.stdout.write(line + '\n');
      const result = await runCallsBench({ transport: opts.transport, calls: opts.calls, seconds: opts.seconds, rampMs: opts.rampMs, config, recognition: opts.stt, voice: opts.tts, print: out });
      // The raw histograms are for merging, not reading: the summary above has their percentiles.
      if (opts.json) out(JSON.stringify(result, (key, value: unknown) => (key === 'bins' ? undefined : value), 2));
    });
  return bench;
}
