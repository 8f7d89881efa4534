/**
 * Concurrent `POST /api/stt/transcribe` requests against a real server on
 * loopback (PocketSphinx, default pool): requests per second and latency at
 * several concurrency levels, and audio seconds transcribed per wall second.
 */
import { fliteWav, multipartBody, startServer } from '../test/support/server.js';

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export default async function bench(ctx: { quick: boolean; print: (line: string) => void }): Promise<void> {
  const wav = fliteWav('please call me back tomorrow morning after ten');
  const audioSec = (wav.length - 44) / 2 / 16000;
  const server = await startServer({}, { kinds: ['stt'] });
  const seconds = ctx.quick ? 4 : 15;
  try {
    const once = async () => {
      const res = await fetch(`${server.url}/api/stt/transcribe`, { method: 'POST', body: multipartBody({ language: 'en' }, { field: 'file', name: 'a.wav', bytes: wav }) });
      if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    };
    await once();
    ctx.print(`audio per request: ${audioSec.toFixed(2)} s (flite slt WAV, ${wav.length} bytes); pocketsphinx pool ${server.config.engines.stt.pocketsphinx.poolSize}`);
    ctx.print('| concurrency | requests/s | p50 ms | p99 ms | audio s per wall s |');
    ctx.print('|---:|---:|---:|---:|---:|');
    for (const concurrency of ctx.quick ? [1, 4] : [1, 2, 4, 8]) {
      const latencies: number[] = [];
      const deadline = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            await once();
            latencies.push(performance.now() - t0);
          }
        }),
      );
      const wall = (performance.now() - started) / 1000;
      latencies.sort((a, b) => a - b);
      const rps = latencies.length / wall;
      ctx.print(`| ${concurrency} | ${rps.toFixed(1)} | ${percentile(latencies, 50).toFixed(0)} | ${percentile(latencies, 99).toFixed(0)} | ${(rps * audioSec).toFixed(1)} |`);
    }
  } finally {
    await server.close();
  }
}
