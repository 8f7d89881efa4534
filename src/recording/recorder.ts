/**
 * One call's recording: the timeline fed by the IO taps, drained to a stereo
 * WAV (caller left, bot right) every `flushMs` by a timer, so the audio path
 * only ever appends to memory. The WAV header is patched after every write,
 * so a killed process leaves a file that plays up to its last flush. Any
 * failure (directory not writable, disk full, disk too slow) stops the
 * recording, is logged and counted, and never reaches the call.
 */
import { mkdir, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WavFileWriter } from '../audio/wav-writer.js';
import type { Logger } from '../log.js';
import { BotPlayout } from './bot-playout.js';
import type { RecordingCounters } from './counters.js';
import { sealRecordingWav, WAV_HEADER_BYTES } from './seal.js';
import type { RecordingInfo } from './sink.js';
import { StereoTimeline } from './timeline.js';

const CHANNELS = 2;

export interface CallRecorderOptions {
  callId: string;
  /** Absolute file the WAV is written to, and its path relative to the recordings directory. */
  file: string;
  path: string;
  sampleRate: number;
  /** The IO's playedMs() when recording starts. */
  playedMs: number;
  expiresAt: Date | null;
  logger: Logger;
  counters: RecordingCounters;
  now: () => number;
  /** How often placed audio is written (default 500 ms). */
  flushMs?: number;
  /** Audio waiting for the disk beyond this abandons the recording (default 30 s). */
  maxPendingMs?: number;
  /** Told when the file is open (the row is written then). */
  onStarted?: (info: RecordingInfo) => void;
}

type State = 'pending' | 'recording' | 'off' | 'failed' | 'closed';

export class CallRecorder {
  private state: State = 'pending';
  private readonly timeline: StereoTimeline;
  private readonly playout: BotPlayout;
  private writer: WavFileWriter | undefined;
  private opening: Promise<void> | undefined;
  /** Closing and re-sealing the file after a failure. */
  private closing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Samples handed to the writer and not yet on disk. */
  private inFlight = 0;
  private readonly maxPending: number;
  private readonly logger: Logger;

  constructor(private readonly options: CallRecorderOptions) {
    this.timeline = new StereoTimeline({ sampleRate: options.sampleRate, now: options.now });
    this.playout = new BotPlayout(options.sampleRate, options.playedMs);
    this.maxPending = Math.round(((options.maxPendingMs ?? 30_000) * options.sampleRate) / 1000);
    this.logger = options.logger;
  }

  /** Still listening to the IO (recording, or waiting to know whether to). */
  get tapping(): boolean {
    return this.state === 'pending' || this.state === 'recording';
  }

  get failed(): boolean {
    return this.state === 'failed';
  }

  /** Opens the file; audio placed meanwhile waits in memory. */
  start(): void {
    if (this.state !== 'pending') return;
    this.state = 'recording';
    const { file, sampleRate } = this.options;
    this.opening = (async () => {
      const openFile = async () => {
        await mkdir(dirname(file), { recursive: true });
        return WavFileWriter.open(file, { sampleRate, channels: CHANNELS, flushEverySec: 0 });
      };
      // The purge may remove an empty day directory between the two steps (at midnight): once more then.
      const writer = await openFile().catch((err: unknown) => ((err as { code?: string }).code === 'ENOENT' ? openFile() : Promise.reject(err)));
      if (this.state !== 'recording') {
        await writer.close().catch(() => undefined);
        return;
      }
      this.writer = writer;
      this.options.counters.started++;
      this.options.counters.active++;
      this.timer = setInterval(() => this.flush(), this.options.flushMs ?? 500);
      this.timer.unref();
      this.options.onStarted?.(this.info(WAV_HEADER_BYTES, false));
    })().catch(async (err: unknown) => {
      this.abandon(err, 'could not create the recording file');
      // A file may have been created before its header could be written (disk full): nothing of it is worth keeping.
      await unlink(file).catch(() => undefined);
    });
  }

  /** The flow does not want this call recorded: forget what was placed. */
  stop(): void {
    if (this.state !== 'pending') return;
    this.state = 'off';
    this.timeline.discard();
  }

  onCaller(samples: Int16Array, playedMs: number): void {
    if (!this.tapping) return;
    this.timeline.addCaller(samples.slice());
    this.onPlayed(playedMs);
    if (this.timeline.pending > this.maxPending) this.abandon(new Error(`${Math.round((this.timeline.pending * 1000) / this.options.sampleRate)} ms of audio wait for a file that is not open`), 'the recording file could not be opened in time');
  }

  onWrite(samples: Int16Array): void {
    if (this.tapping) this.playout.write(samples.slice());
  }

  onPlayed(playedMs: number): void {
    if (!this.tapping) return;
    const { audio, silentAfter } = this.playout.played(playedMs);
    this.timeline.addBot(audio, silentAfter);
  }

  /** After the IO's clear(): what it had not played is gone. */
  onCleared(playedMs: number): void {
    if (this.tapping) this.playout.dropUnplayed(playedMs);
  }

  /**
   * Writes the rest and closes the file. Returns the recording as it is on
   * disk, or undefined when nothing was recorded (off, or the file never opened).
   */
  async finish(playedMs: number): Promise<RecordingInfo | undefined> {
    this.onPlayed(playedMs);
    await this.opening;
    // After the file is open: opening starts the timer.
    clearInterval(this.timer);
    this.timer = undefined;
    const writer = this.writer;
    if (this.state === 'recording' && writer) {
      const rest = this.timeline.take(true);
      try {
        if (rest) await this.write(writer, rest);
        this.state = 'closed';
        await writer.close();
      } catch (err) {
        this.abandon(err, 'could not finish writing the recording');
      }
    }
    this.options.counters.gaps += this.timeline.stats.gaps;
    if (this.state === 'pending') this.state = 'off';
    if (!writer) return undefined;
    if (this.state === 'failed') await this.closing;
    this.options.counters.active--;
    const complete = this.state === 'closed';
    if (complete) this.options.counters.completed++;
    let bytes = 0;
    try {
      bytes = (await stat(this.options.file)).size;
    } catch {
      // Gone (deleted by hand): the row still says what was meant to be there.
    }
    return this.info(bytes, complete);
  }

  private info(bytes: number, complete: boolean): RecordingInfo {
    const frames = Math.max(0, Math.floor((bytes - WAV_HEADER_BYTES) / (2 * CHANNELS)));
    const { callId, path, sampleRate, expiresAt } = this.options;
    return { callId, path, format: 'wav', sampleRate, channels: CHANNELS, durationMs: Math.round((frames * 1000) / sampleRate), bytes, complete, expiresAt };
  }

  private flush(): void {
    const writer = this.writer;
    if (this.state !== 'recording' || !writer) return;
    const ready = this.timeline.take();
    if (ready) this.write(writer, ready).catch((err: unknown) => this.abandon(err, 'could not write the recording'));
  }

  private write(writer: WavFileWriter, [caller, bot]: [Int16Array, Int16Array]): Promise<void> {
    const n = caller.length;
    this.inFlight += n;
    if (this.inFlight > this.maxPending) {
      return Promise.reject(new Error(`the disk is not keeping up: ${Math.round((this.inFlight * 1000) / this.options.sampleRate)} ms of audio wait to be written`));
    }
    const written = writer.write([caller, bot]).then(() => {
      this.inFlight -= n;
      this.options.counters.bytes += n * 2 * CHANNELS;
    });
    // The header follows every write, so the file reads in full up to here whatever happens next.
    return Promise.all([written, writer.flush()]).then(() => undefined);
  }

  /** Stops recording after a failure: logged and counted; what is on disk stays. */
  abandon(err: unknown, what: string): void {
    if (this.state === 'failed' || this.state === 'off') return;
    const wasOpen = this.writer !== undefined;
    this.state = 'failed';
    this.options.counters.failed++;
    clearInterval(this.timer);
    this.timer = undefined;
    this.timeline.discard();
    this.logger.error({ err, file: this.options.file, recordedMs: Math.round(this.timeline.committedMs) }, `${what}; the call goes on without a recording`);
    const writer = this.writer;
    if (wasOpen && writer) {
      // The writer counts bytes before they are on disk: after a refused write its header would
      // claim more than the file holds, so the header is set again from the file itself.
      this.closing = writer
        .close()
        .catch(() => undefined)
        .then(() => sealRecordingWav(this.options.file))
        .then(
          () => undefined,
          (sealErr: unknown) => this.logger.warn({ err: sealErr, file: this.options.file }, 'could not fix the header of a recording cut short'),
        );
    }
  }
}
