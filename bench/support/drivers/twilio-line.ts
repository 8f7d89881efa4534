/**
 * A simulated Twilio Media Stream (written from Twilio's message reference,
 * not from palabre's server): `connected`, `start`, one 20 ms µ-law `media`
 * message every 20 ms on its own schedule, `dtmf`, `stop`. Bot audio is
 * buffered and played at real time as Twilio does, each `mark` echoed once the
 * audio before it has played, `clear` drops the buffer and echoes the marks.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { WebSocket } from 'ws';
import { encodeMulaw } from '../../../src/audio/g711.js';
import type { OutboundMeter } from '../outbound-meter.js';
import { CALLER_FRAME_SAMPLES, CALLER_RATE, FRAME_MS_PERIOD } from '../wire-constants.js';
import type { CallerClip, CallerLine, DialTarget, LineDriver } from './line-types.js';

/** A gap in bot audio shorter than this is a stutter inside speech, not a pause between turns. */
const UNDERRUN_GAP_MS = 300;

type Item = { ms: number; mark?: undefined } | { mark: string; ms?: undefined };

const SILENCE_B64 = Buffer.from(new Uint8Array(CALLER_FRAME_SAMPLES).fill(0xff)).toString('base64');
const encoded = new WeakMap<CallerClip, string[]>();

function wirePayloads(clip: CallerClip): string[] {
  let out = encoded.get(clip);
  if (!out) {
    out = clip.frames.map((f) => Buffer.from(encodeMulaw(f)).toString('base64'));
    encoded.set(clip, out);
  }
  return out;
}

function sid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

/** One playout clock for every line of the process: fewer timers than one per call. */
const playing = new Set<TwilioLine>();
let playTimer: NodeJS.Timeout | undefined;

function playAll(): void {
  const now = performance.now();
  for (const line of playing) line.play(now);
}

class TwilioLine implements CallerLine {
  voiced = 0;
  lastVoiceAt = -Infinity;
  isClosed = false;
  readonly closed: Promise<void>;
  private readonly callSid = sid('CA');
  private seq = 0;
  private chunk = 0;
  private readonly startedAt = performance.now();
  private queue: string[] = [];
  private queued: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly playout: Item[] = [];
  private lastTick = performance.now();
  /** When the playout buffer last ran dry after bot audio. */
  private dryAt: number | undefined;

  constructor(
    readonly id: string,
    private readonly ws: WebSocket,
    private readonly meter: OutboundMeter,
  ) {
    ws.on('message', (data) => this.onMessage(String(data)));
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      ws.on('close', () => {
        this.isClosed = true;
        clearTimeout(this.timer);
        playing.delete(this);
        for (const done of this.queued.splice(0)) done();
        resolve();
      }),
    );
    this.send(`{"event":"connected","protocol":"Call","version":"1.0.0"}`);
    this.send(
      JSON.stringify({
        event: 'start',
        sequenceNumber: this.next(),
        streamSid: id,
        start: { streamSid: id, accountSid: sid('AC'), callSid: this.callSid, tracks: ['inbound'], customParameters: { flow: 'support-desk', language: 'en' }, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: CALLER_RATE, channels: 1 } },
      }),
    );
    playing.add(this);
    playTimer ??= setInterval(playAll, FRAME_MS_PERIOD);
    this.stream();
  }

  get playing(): boolean {
    return this.playout.some((i) => i.ms !== undefined);
  }

  private next(): string {
    return String(++this.seq);
  }

  private send(text: string): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
  }

  private stream(): void {
    const t0 = performance.now() + Math.random() * FRAME_MS_PERIOD;
    let slot = 0;
    const tick = (): void => {
      if (this.isClosed) return;
      const now = performance.now();
      while (t0 + slot * FRAME_MS_PERIOD <= now) {
        const payload = this.queue.shift();
        if (payload && this.queue.length === 0) for (const done of this.queued.splice(0)) done();
        this.send(
          `{"event":"media","sequenceNumber":"${this.next()}","streamSid":"${this.id}","media":{"track":"inbound","chunk":"${++this.chunk}","timestamp":"${Math.round(now - this.startedAt)}","payload":"${payload ?? SILENCE_B64}"}}`,
        );
        slot++;
      }
      this.timer = setTimeout(tick, Math.max(0, t0 + slot * FRAME_MS_PERIOD - performance.now()));
    };
    this.timer = setTimeout(tick, Math.max(0, t0 - performance.now()));
  }

  say(clip: CallerClip): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    this.queue.push(...wirePayloads(clip));
    return new Promise((resolve) => this.queued.push(resolve));
  }

  dtmf(digit: string): void {
    this.send(JSON.stringify({ event: 'dtmf', sequenceNumber: this.next(), streamSid: this.id, dtmf: { track: 'inbound_track', digit } }));
  }

  hangup(): void {
    if (this.isClosed) return;
    this.send(JSON.stringify({ event: 'stop', sequenceNumber: this.next(), streamSid: this.id, stop: { accountSid: 'AC', callSid: this.callSid } }));
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private onMessage(text: string): void {
    const m = JSON.parse(text) as { event: string; media?: { payload?: string }; mark?: { name?: string } };
    const now = performance.now();
    if (m.event === 'media' && typeof m.media?.payload === 'string') {
      const b64 = m.media.payload;
      const bytes = (b64.length * 3) / 4 - (b64.endsWith('==') ? 2 : b64.endsWith('=') ? 1 : 0);
      const ms = bytes / (CALLER_RATE / 1000);
      if (this.meter.measuring) {
        this.meter.audioMs += ms;
        if (this.dryAt !== undefined && now - this.dryAt < UNDERRUN_GAP_MS) this.meter.underruns++;
      }
      this.dryAt = undefined;
      this.playout.push({ ms });
      this.voiced++;
      this.lastVoiceAt = now;
    } else if (m.event === 'mark' && typeof m.mark?.name === 'string') {
      this.playout.push({ mark: m.mark.name });
    } else if (m.event === 'clear') {
      for (const item of this.playout.splice(0)) if (item.mark !== undefined) this.echo(item.mark);
      this.dryAt = undefined;
    }
  }

  /** Plays what the buffer holds up to `now`, echoing marks as the audio before them finishes. */
  play(now: number): void {
    let budget = now - this.lastTick;
    this.lastTick = now;
    let hadAudio = false;
    while (this.playout.length > 0) {
      const head = this.playout[0];
      if (head.mark !== undefined) {
        this.playout.shift();
        this.echo(head.mark);
        continue;
      }
      hadAudio = true;
      const take = Math.min(budget, head.ms);
      head.ms -= take;
      budget -= take;
      this.lastVoiceAt = now;
      if (head.ms > 1e-6) break;
      this.playout.shift();
    }
    if (hadAudio && !this.playing) this.dryAt = now - budget;
  }

  private echo(name: string): void {
    if (this.meter.measuring) this.meter.marksEchoed++;
    this.send(JSON.stringify({ event: 'mark', sequenceNumber: this.next(), streamSid: this.id, mark: { name } }));
  }
}

export const twilioLines: LineDriver = {
  newId: () => sid('MZ'),
  async dial(target: DialTarget, id: string, meter: OutboundMeter): Promise<CallerLine> {
    const ws = new WebSocket(target.url ?? `ws://${target.host}:${target.port}/twilio/media`);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new TwilioLine(id, ws, meter);
  },
  close() {
    clearInterval(playTimer);
    playTimer = undefined;
  },
};
