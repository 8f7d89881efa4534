/**
 * The recorder as a call observer: for each call whose flow allows it, wraps
 * the IO with the taps, writes the stereo WAV as the call goes, reports the
 * file to the sink (the `recordings` row), and once the call has ended
 * converts it to Ogg/Opus or MP3 when configured and ffmpeg is there. Row
 * writes and conversions run after the call, off its path, one conversion at
 * a time; settled() waits for them (tests, shutdown).
 */
import { unlink } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import type { CallObservation, CallObserver } from '../call/factory.js';
import type { Logger } from '../log.js';
import { convertRecording } from './convert.js';
import { createRecordingCounters, type RecordingCounters } from './counters.js';
import { recordingPath, resolveInDir, withFormat, type RecordingFormat } from './paths.js';
import { CallRecorder } from './recorder.js';
import type { RecordingInfo, RecordingSink } from './sink.js';
import { RecordingTapIO } from './tap-io.js';

export interface RecordingObserverOptions {
  /** Recordings directory (see recordingsDir(config)). */
  dir: string;
  /** Format kept after the call; 'wav' keeps the file as written. */
  format: RecordingFormat;
  /** Where rows go (the store's `recordings` table); none records files only. */
  sink?: RecordingSink;
  logger: Logger;
  /** Whether a flow's calls are recorded; a promise is awaited while the call's audio waits in memory. Default: all. */
  flowAllowsRecording?: (flow: string) => boolean | Promise<boolean>;
  /** Days until a recording expires (its row's expires_at); 0 or absent keeps it for ever. */
  retentionDays?: number;
  /** ffmpeg program for the conversion (default 'ffmpeg'). */
  ffmpegPath?: string;
  /** Monotonic ms used to notice gaps in the caller's frames (default performance.now). */
  now?: () => number;
  /** How often placed audio is written to the file (default 500 ms). */
  flushMs?: number;
  counters?: RecordingCounters;
}

export interface RecordingObserver extends CallObserver {
  readonly counters: RecordingCounters;
  /** Resolves once every call finished so far has its row written and its conversion done. */
  settled(): Promise<void>;
}

const DAY_MS = 86_400_000;

export function createRecordingObserver(options: RecordingObserverOptions): RecordingObserver {
  const counters = options.counters ?? createRecordingCounters();
  const log = options.logger.child({ module: 'recording' });
  const now = options.now ?? (() => performance.now());
  const background = new Set<Promise<void>>();
  let conversions: Promise<void> = Promise.resolve();
  let ffmpegMissingLogged = false;

  const track = (work: Promise<void>): void => {
    const p = work.catch((err: unknown) => log.error({ err }, 'recording bookkeeping failed'));
    background.add(p);
    void p.finally(() => background.delete(p));
  };

  const sinkCall = async (what: string, callId: string, fn: () => Promise<void>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      counters.sinkFailed++;
      log.error({ err, callId }, `could not ${what} the recording's row; the file is kept`);
      return false;
    }
  };

  const convert = async (info: RecordingInfo, callLog: Logger): Promise<void> => {
    const format = options.format;
    if (format === 'wav') return;
    const wavFile = resolveInDir(options.dir, info.path);
    const path = withFormat(info.path, format);
    const outFile = resolveInDir(options.dir, path);
    let bytes: number;
    try {
      bytes = await convertRecording(wavFile, outFile, format, { ffmpegPath: options.ffmpegPath ?? 'ffmpeg' });
    } catch (err) {
      counters.conversionFailed++;
      const missing = (err as { code?: string }).code === 'engine_unavailable';
      if (!missing || !ffmpegMissingLogged) callLog.warn({ err, file: wavFile }, `the recording stays WAV: conversion to ${format} failed`);
      if (missing) ffmpegMissingLogged = true;
      return;
    }
    if (options.sink && !(await sinkCall('update', info.callId, () => options.sink!.converted(info.callId, { path, format, bytes })))) {
      // The row still points at the WAV: keep that, drop the copy nobody would find.
      await unlink(outFile).catch(() => undefined);
      return;
    }
    counters.converted++;
    await unlink(wavFile).catch((err: unknown) => callLog.warn({ err, file: wavFile }, 'the WAV of a converted recording could not be deleted'));
  };

  return {
    counters,
    async settled() {
      while (background.size > 0) await Promise.all([...background]);
      await conversions;
    },
    open(callId, meta, io, logger): CallObservation | undefined {
      const callLog = logger.child({ module: 'recording' });
      let allowed: boolean | Promise<boolean>;
      try {
        allowed = options.flowAllowsRecording?.(meta.flow) ?? true;
      } catch (err) {
        callLog.warn({ err, flow: meta.flow }, 'could not tell whether the flow is recorded; recording it');
        allowed = true;
      }
      if (allowed === false) {
        counters.skipped++;
        return undefined;
      }
      const startedAt = new Date();
      const path = recordingPath(callId, startedAt, 'wav');
      const retention = options.retentionDays ?? 0;
      let rows: Promise<unknown> = Promise.resolve();
      const recorder = new CallRecorder({
        callId,
        file: resolveInDir(options.dir, path),
        path,
        sampleRate: io.sampleRate,
        playedMs: io.playedMs(),
        expiresAt: retention > 0 ? new Date(startedAt.getTime() + retention * DAY_MS) : null,
        logger: callLog,
        counters,
        now,
        flushMs: options.flushMs,
        onStarted: (info) => {
          const sink = options.sink;
          if (sink) rows = sinkCall('write', callId, () => sink.started(info));
        },
      });
      let decided: Promise<void> = Promise.resolve();
      if (allowed === true) recorder.start();
      else {
        decided = allowed.then(
          (ok) => {
            if (ok) recorder.start();
            else {
              recorder.stop();
              counters.skipped++;
            }
          },
          (err: unknown) => {
            callLog.warn({ err, flow: meta.flow }, 'could not tell whether the flow is recorded; recording it');
            recorder.start();
          },
        );
      }
      const tap = new RecordingTapIO(io, recorder);
      return {
        io: tap,
        async finish() {
          await decided;
          const info = await recorder.finish(tap.playedNow());
          if (!info) return;
          const sink = options.sink;
          track(
            (async () => {
              // After the first row write (ok or not): the last one is an upsert and carries everything.
              await rows;
              const ok = !sink || (await sinkCall('complete', callId, () => sink.finished(info)));
              if (ok && info.complete && options.format !== 'wav') {
                const job = conversions.then(() => convert(info, callLog));
                conversions = job.catch(() => undefined);
                await job;
              }
            })(),
          );
        },
      };
    },
  };
}
