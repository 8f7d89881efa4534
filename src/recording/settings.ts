/** What the recorder takes from the configuration, and which flows it records. */
import { join } from 'node:path';
import type { Config } from '../config.js';
import type { FlowRegistry } from '../dialog/loader.js';
import type { RecordingFormat } from './paths.js';

/** `recordings.dir`, or `<dataDir>/recordings` when it is empty. */
export function recordingsDir(config: Config): string {
  return config.recordings.dir.trim() || join(config.dataDir, 'recordings');
}

/** The observer's options that come from the configuration. */
export function recordingSettings(config: Config): { dir: string; format: RecordingFormat; retentionDays: number; ffmpegPath: string; purgeIntervalMs: number } {
  const r = config.recordings;
  return { dir: recordingsDir(config), format: r.format, retentionDays: r.retentionDays, ffmpegPath: config.audio.ffmpegPath, purgeIntervalMs: r.purgeIntervalMinutes * 60_000 };
}

/**
 * A flow's calls are recorded unless its file says `recording: false`. A flow
 * that is not in the registry is recorded: the call fails to start anyway,
 * and a recording is never lost by a lookup.
 */
export function flowRecordingPolicy(flows: () => Promise<FlowRegistry>): (flowId: string) => Promise<boolean> {
  return async (flowId) => {
    const registry = await flows();
    return !registry.has(flowId) || registry.get(flowId).definition.recording !== false;
  };
}
