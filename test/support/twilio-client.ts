/**
 * A Twilio Media Streams peer written from the spec (PROTOCOLS.md §3), not
 * from the server: it sends `connected`, `start`, 20 ms µ-law `media` at
 * real-time pace, `dtmf` and `stop`, and plays what the server sends the way
 * Twilio does: audio is buffered and played at real time, each `mark` is
 * echoed once the audio before it has played, and `clear` drops the buffer
 * and echoes every pending mark at once.
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';

const FRAME_BYTES = 160;
const MULAW_SILENCE = 0xff;

type Item = { kind: 'audio'; ms: number } | { kind: 'mark'; name: string };
export type ServerMessage = { event: string; streamSid?: string; media?: { payload?: string }; mark?: { name?: string } } & Record<string, unknown>;

function sid(prefix: string): string {
  return prefix + randomBytes(16).toString('hex');
}

export class TwilioClient {
  readonly streamSid = sid('MZ');
  readonly callSid = sid('CA');
  readonly accountSid = sid('AC');
  readonly received: ServerMessage[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Ms of bot audio received, played, and dropped by `clear`. */
  receivedMs = 0;
  playedMs = 0;
  clears = 0;
  lastAudioAt = 0;

  private seq = 0;
  private chunk = 0;
  private mediaStart = 0;
  private readonly outbox: Uint8Array[] = [];
  private readonly playout: Item[] = [];
  private lineTimer: NodeJS.Timeout | undefined;
  private playTimer: NodeJS.Timeout | undefined;
  private lastTick = 0;
  private readonly waiters = new Set<() => boolean>();

  constructor(readonly ws: WebSocket) {
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.stopLine();
        clearInterval(this.playTimer);
        resolve({ code, reason: String(reason) });
      }),
    );
    ws.on('message', (data) => this.onMessage(JSON.parse(String(data)) as ServerMessage));
  }

  /** `headers` go on the handshake request, as Twilio's X-Twilio-Signature does. */
  static open(url: string, headers?: Record<string, string>): TwilioClient {
    return new TwilioClient(new WebSocket(url, headers ? { headers } : undefined));
  }

  send(message: unknown): void {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  private next(): string {
    return String(++this.seq);
  }

  connected(): void {
    this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  }

  start(customParameters: Record<string, string>, mediaFormat = { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }): void {
    this.send({
      event: 'start',
      sequenceNumber: this.next(),
      streamSid: this.streamSid,
      start: { streamSid: this.streamSid, accountSid: this.accountSid, callSid: this.callSid, tracks: ['inbound'], customParameters, mediaFormat },
    });
    this.mediaStart = performance.now();
    this.lastTick = performance.now();
    this.playTimer = setInterval(() => this.play(), 10);
  }

  media(payload: Uint8Array, streamSid = this.streamSid): void {
    this.send({
      event: 'media',
      sequenceNumber: this.next(),
      streamSid,
      media: { track: 'inbound', chunk: String(++this.chunk), timestamp: String(Math.round(performance.now() - this.mediaStart)), payload: Buffer.from(payload).toString('base64') },
    });
  }

  dtmf(digit: string): void {
    this.send({ event: 'dtmf', sequenceNumber: this.next(), streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } });
  }

  stop(): void {
    this.send({ event: 'stop', sequenceNumber: this.next(), streamSid: this.streamSid, stop: { accountSid: this.accountSid, callSid: this.callSid } });
  }

  /** The phone line: one 160-byte frame every 20 ms, the caller's words when queued, silence otherwise. */
  startLine(): void {
    const began = performance.now();
    let sent = 0;
    const tick = (): void => {
      const due = Math.floor((performance.now() - began) / 20);
      for (; sent <= due; sent++) {
        if (this.ws.readyState !== WebSocket.OPEN) return;
        this.media(this.outbox.shift() ?? new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE));
      }
      this.lineTimer = setTimeout(tick, 10);
    };
    tick();
  }

  stopLine(): void {
    clearTimeout(this.lineTimer);
  }

  /** Queues µ-law 8 kHz speech; resolves once the line has sent all of it. */
  say(mulaw: Uint8Array): Promise<void> {
    for (let at = 0; at < mulaw.length; at += FRAME_BYTES) {
      const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      frame.set(mulaw.subarray(at, Math.min(mulaw.length, at + FRAME_BYTES)));
      this.outbox.push(frame);
    }
    return this.waitFor('the line to send the words', () => this.outbox.length === 0, 60_000);
  }

  /** Is bot audio still waiting to play? */
  get playing(): boolean {
    return this.playout.some((i) => i.kind === 'audio');
  }

  waitFor(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!done()) return false;
        this.waiters.delete(check);
        clearTimeout(timer);
        resolve();
        return true;
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      if (!check()) this.waiters.add(check);
    });
  }

  /** Waits for the bot to speak after `sinceMs` (performance.now()), then to play it all and stay quiet `quietMs`. */
  async waitBotTurn(sinceMs: number, quietMs = 800, timeoutMs = 20_000): Promise<void> {
    await this.waitFor('the bot to answer', () => this.lastAudioAt > sinceMs, timeoutMs);
    await this.waitFor('the bot to go quiet', () => !this.playing && performance.now() - this.lastAudioAt >= quietMs, timeoutMs);
  }

  private onMessage(m: ServerMessage): void {
    this.received.push(m);
    if (m.event === 'media' && typeof m.media?.payload === 'string') {
      const ms = Buffer.from(m.media.payload, 'base64').length / 8;
      this.receivedMs += ms;
      this.playout.push({ kind: 'audio', ms });
      this.lastAudioAt = performance.now();
    } else if (m.event === 'mark' && typeof m.mark?.name === 'string') {
      this.playout.push({ kind: 'mark', name: m.mark.name });
      this.play();
    } else if (m.event === 'clear') {
      this.clears++;
      for (const item of this.playout.splice(0)) if (item.kind === 'mark') this.echoMark(item.name);
    }
    this.notify();
  }

  /** Plays buffered audio at real time, echoing each mark the moment the audio before it is done. */
  private play(): void {
    const now = performance.now();
    let budget = now - this.lastTick;
    this.lastTick = now;
    while (this.playout.length > 0) {
      const head = this.playout[0];
      if (head.kind === 'mark') {
        this.playout.shift();
        this.echoMark(head.name);
        continue;
      }
      const take = Math.min(budget, head.ms);
      head.ms -= take;
      budget -= take;
      this.playedMs += take;
      if (head.ms > 1e-6) break;
      this.playout.shift();
      this.lastAudioAt = now;
    }
    this.notify();
  }

  private echoMark(name: string): void {
    this.send({ event: 'mark', sequenceNumber: this.next(), streamSid: this.streamSid, mark: { name } });
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }
}
