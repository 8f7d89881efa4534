/** `palabre simulate`: a scripted caller through the full audio pipeline, with a printed and saved report. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Command, Option } from 'commander';
import { PalabreError } from '../errors.js';
import { configFor, withEngines } from './context.js';

export function simulateCommand(): Command {
  return new Command('simulate')
    .description('play a scripted caller (text to synthesise, WAV files, pauses, barge-ins, DTMF) through a flow over the full audio pipeline, and report')
    .requiredOption('-s, --script <file>', 'caller script (YAML; see examples/callers/)')
    .option('-f, --flow <id>', 'flow id (default: the script\'s `flow`)')
    .addOption(new Option('-l, --lang <code>', 'language (default: the script\'s, else the flow\'s)').choices(['fr', 'en']))
    .option('--realtime', 'run at the pace of a real call instead of skipping idle time')
    .option('-o, --report <file>', 'where to save the JSON report (default: <dataDir>/simulations/<flow>-<time>.json)')
    .option('--json', 'print the whole report as JSON instead of the summary')
    .action(async (opts: { script: string; flow?: string; lang?: string; realtime?: boolean; report?: string; json?: boolean }, command: Command) => {
      const config = configFor(command);
      const { loadCallerScript } = await import('../simulate/script.js');
      const { script, baseDir } = loadCallerScript(opts.script);
      const flowId = opts.flow ?? script.flow;
      if (!flowId) throw new PalabreError('bad_request', `name the flow with --flow or a \`flow:\` line in ${opts.script}`);
      const { loadFlowsDir } = await import('../dialog/index.js');
      const { createLlmFromConfig, withLlmHint } = await import('../engines/llm/index.js');
      const llm = createLlmFromConfig(config);
      const registry = await loadFlowsDir(config.flows.dir, { llmAvailable: llm !== undefined, realtimeAvailable: config.engines.realtime.apiKey !== undefined });
      if (!registry.list().some((f) => f.id === flowId)) throw new PalabreError('not_found', `no flow "${flowId}" in ${config.flows.dir}; known flows: ${registry.list().map((f) => f.id).join(', ')}`);
      const flow = withLlmHint(() => registry.get(flowId));
      const language: string = opts.lang ?? script.language ?? flow.definition.default_language ?? flow.definition.languages[0];
      const callerEngine = script.caller.engine;
      const report = await withEngines(
        command,
        { kinds: ['vad', 'stt', 'tts', 'denoise'], ttsEngines: [...new Set([config.engines.tts.engine, callerEngine])] },
        async (engines, _config, logger) => {
          const { simulate } = await import('../simulate/run.js');
          return simulate({ flow, script, baseDir, language, engines, config, logger, llm, realtime: opts.realtime });
        },
        config,
      );
      const path = opts.report ?? join(config.dataDir, 'simulations', `${flowId}-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, JSON.stringify(report, null, 2) + '\n');
      const out = (line: string) => process.stdout.write(line + '\n');
      if (opts.json) out(JSON.stringify(report, null, 2));
      else {
        const s = report.summary;
        out(`${flowId} (${language}), ${report.clock} clock: call of ${(s.durationMs / 1000).toFixed(1)} s simulated in ${report.wallSec} s, ended: ${s.endReason}`);
        for (const line of s.transcript) out(`  ${(line.atMs / 1000).toFixed(1).padStart(6)} s  ${line.role === 'bot' ? 'bot   ' : 'caller'}  ${line.text}${line.cut ? `  [cut; heard: "${line.heard ?? ''}"]` : ''}`);
        out(`states: ${s.states.join(' → ')}`);
        for (const r of s.records) out(`record ${r.kind}: ${JSON.stringify(r.data)}`);
        out('turn latencies (ms): end of speech→end of turn, STT, end of turn→first audio out, of which palabre itself');
        for (const l of report.latencies) out(`  turn ${l.turn}: ${l.endOfTurnMs ?? '-'}  ${l.sttMs ?? '-'}  ${l.firstAudioMs ?? '-'}  ${l.palabreMs ?? '-'}`);
        if (s.bargeIns.total > 0) out(`barge-ins: ${s.bargeIns.total} (${s.bargeIns.false} false)`);
        for (const e of report.expectations) out(`${e.ok ? 'ok  ' : 'FAIL'} ${e.what}: ${e.detail}`);
        out(`report saved to ${path}`);
      }
      if (!report.ok) process.exitCode = 1;
    });
}
