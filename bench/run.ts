/**
 * `npm run bench [-- --quick] [names…]`: runs each benchmark module and prints
 * its figures. A benchmark that throws fails the run, so CI notices.
 */
const ALL = ['audio', 'vad', 'denoise', 'chain', 'tts', 'stt', 'http', 'intents', 'call', 'reply', 'calls', 'store'] as const;

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const wanted = args.filter((a) => !a.startsWith('--'));
const names = wanted.length > 0 ? wanted : [...ALL];

let failed = 0;
for (const name of names) {
  if (!(ALL as readonly string[]).includes(name)) {
    console.error(`unknown benchmark "${name}"; known: ${ALL.join(', ')}`);
    process.exit(2);
  }
  console.log(`\n## ${name}${quick ? ' (quick)' : ''}`);
  const started = performance.now();
  try {
    const mod = (await import(`./${name}.ts`)) as { default: (ctx: { quick: boolean; print: (line: string) => void }) => Promise<void> };
    await mod.default({ quick, print: (line) => console.log(line) });
    console.log(`(${name}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (err) {
    failed++;
    console.error(`benchmark ${name} failed:`, err);
  }
}
console.log(`\nmachine: ${(await import('node:os')).cpus()[0]?.model ?? 'unknown cpu'}, ${(await import('node:os')).cpus().length} cores, node ${process.version}`);
process.exit(failed > 0 ? 1 : 0);
