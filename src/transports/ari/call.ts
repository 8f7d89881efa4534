/**
 * One call in the Stasis application, from StasisStart to the last REST
 * call: answer, an optional Asterisk welcome (waiting for PlaybackFinished),
 * a mixing bridge, an externalMedia channel, both channels bridged, optional
 * snoop channels recording the caller, an optional welcome in palabre's own
 * voice, then the flow runs over the media. The externalMedia channel is RTP
 * over UDP to one of palabre's ports (its Asterisk side read from
 * UNICASTRTP_LOCAL_ADDRESS/PORT), or AudioSocket over TCP: Asterisk connects
 * to palabre's AudioSocket server naming the UUID the call chose, and the
 * server hands that connection to the call. However it ends (the caller hangs up, the bot hangs up or
 * transfers, a REST call fails during setup, the server stops), everything
 * the call created is deleted exactly once, and the caller is hung up with
 * a reason, continued in the dialplan, or redirected.
 */
import { randomUUID } from 'node:crypto';
import type { ZodType } from 'zod';
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallEventBody, CallSummary } from '../../call/events.js';
import type { CallMeta } from '../../call/factory.js';
import type { CallEndReason, CallIO } from '../../call/io.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { AudioSocketServer } from '../audiosocket/server.js';
import type { RtpCounters } from '../rtp/counters.js';
import { PortsExhaustedError, type PortLease, type PortPool } from '../rtp/port-pool.js';
import { RtpIO } from '../rtp/rtp-io.js';
import { type AriFlowChoice } from './choose-flow.js';
import { AriError, type AriClient, type AriQuery } from './client.js';
import { bridgeSchema, channelSchema, playbackSchema, variableSchema, type AriChannel, type KnownAriEvent } from './events.js';
import { AriMediaIO, type MediaTransport } from './media-io.js';
import { parseWelcome, writeSpeech } from './welcome.js';

/** How an ARI call ended: the call's own reason, or why it never ran. */
export type AriEndCause = CallEndReason | 'setup_failed' | 'bad_flow' | 'refused';

export const ARI_END_CAUSES: readonly AriEndCause[] = ['caller_hangup', 'bot_hangup', 'transfer', 'transport_error', 'timeout', 'server_shutdown', 'error', 'setup_failed', 'bad_flow', 'refused'];

export type AriSettings = Config['ari'];

/** The running call, as a call session exposes it. */
export interface AriCallHandle {
  run(): Promise<CallSummary>;
  end(reason: CallEndReason, detail?: string): Promise<unknown>;
  /** An event from outside the session (the welcome palabre spoke before the flow). */
  report?(event: CallEventBody): void;
}

export interface AriCallEnded {
  channelId: string;
  callerId?: string;
  flow: string;
  language: string;
  cause: AriEndCause;
  detail?: string;
  summary?: CallSummary;
}

export interface AriCallDeps {
  client: AriClient;
  settings: AriSettings;
  ports: PortPool;
  resampler: ResamplerFactory;
  resampleQuality?: number;
  rtpCounters: RtpCounters;
  /** The flow and language for this call, checked against the loaded flows (throws when unknown). */
  chooseFlow: (args: readonly string[], channel: AriChannel) => Promise<AriFlowChoice>;
  createCall: (args: { io: CallIO; meta: CallMeta; logger: Logger }) => Promise<AriCallHandle>;
  /** Renders a `tts:` welcome in the call's voice (PCM16 at the pipeline rate); without it such a welcome is skipped. */
  renderPhrase?: (text: string, language: string, signal?: AbortSignal) => Promise<Int16Array>;
  /** The AudioSocket server Asterisk connects to; required when settings.mediaEncapsulation is audiosocket. */
  audioSocket?: Pick<AudioSocketServer, 'expect' | 'cancel'>;
  /** Events about these channels and playbacks are routed to this call from now on. */
  claim: (kind: 'channel' | 'playback', id: string) => void;
  logger: Logger;
  /** Told of each Asterisk-side recording that could not be started. */
  onRecordingFailed?: () => void;
}

/** The caller left (or the call was ended from outside) while it was being set up. */
class CallGone extends Error {
  constructor(readonly reason: CallEndReason) {
    super(`the call ended during setup (${reason})`);
  }
}

interface Waiter {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

const ENDPOINT = /^[A-Za-z][A-Za-z0-9_]*\/\S+$/;
const HANGUP_REASON: Partial<Record<AriEndCause, string>> = { setup_failed: 'failure', bad_flow: 'failure', error: 'failure', transport_error: 'failure' };

export class AriCall {
  readonly channelId: string;
  private readonly deps: AriCallDeps;
  private readonly settings: AriSettings;
  private readonly client: AriClient;
  private readonly log: Logger;
  private readonly channel: AriChannel;
  private readonly args: readonly string[];
  private readonly tag = randomUUID().slice(0, 8);
  private readonly waiters = new Map<string, Waiter>();
  private callerGone: CallEndReason | undefined;
  private done = false;
  private endRequest: CallEndReason | undefined;
  private tearingDown = false;
  private transferring = false;
  private lease: PortLease | undefined;
  /** The externalMedia transport: an RtpIO, or the AudioSocketIO of Asterisk's connection. */
  private transport: MediaTransport | undefined;
  /** The transport as the flow sees it. */
  private media: AriMediaIO | undefined;
  /** The UUID an AudioSocket externalMedia channel names, while its connection is awaited. */
  private audioSocketUuid: string | undefined;
  /** The `tts:` welcome's text, once it has played. */
  private welcomed: string | undefined;
  private handle: AriCallHandle | undefined;
  private bridgeId: string | undefined;
  private mediaId: string | undefined;
  private readonly snoopIds: string[] = [];
  private choice: AriFlowChoice | undefined;
  /** Hangup cause when it is not the end cause's usual one. */
  private hangupReason: string | undefined;

  constructor(channel: AriChannel, args: readonly string[], deps: AriCallDeps) {
    this.channel = channel;
    this.channelId = channel.id;
    this.args = args;
    this.deps = deps;
    this.settings = deps.settings;
    this.client = deps.client;
    this.log = deps.logger.child({ channel: channel.id });
  }

  /** Runs the call to its end, cleanup included; never rejects. */
  async run(): Promise<AriCallEnded> {
    let cause: AriEndCause = 'error';
    let detail: string | undefined;
    let summary: CallSummary | undefined;
    try {
      try {
        this.choice = await this.deps.chooseFlow(this.args, this.channel);
      } catch (err) {
        if (err instanceof CallGone || err instanceof AriError || this.callerGone) throw err;
        cause = 'bad_flow';
        detail = (err as Error).message;
        this.log.error({ err: detail, args: this.args }, 'no runnable flow for this ARI call; hanging up');
        return this.result(cause, detail);
      }
      this.check();
      await this.setup();
      const callerId = this.channel.caller.number || undefined;
      const meta: CallMeta = { transport: 'ari', flow: this.choice.flow, language: this.choice.language, externalId: this.channelId, ...(callerId ? { callerId } : {}) };
      this.handle = await this.deps.createCall({ io: this.media as AriMediaIO, meta, logger: this.log });
      // Ended while the session was being built: it still runs, and sees the IO already closed.
      if (this.endRequest) void this.handle.end(this.endRequest);
      this.log.info({ flow: meta.flow, language: meta.language, media: this.settings.mediaEncapsulation, rtpPort: this.lease?.port, audiosocket: this.audioSocketUuid }, 'ARI call started');
      const running = this.handle.run();
      // Said before the session ran: its line goes into the call's events once the call has started.
      if (this.welcomed) this.handle.report?.({ type: 'transcript', role: 'bot', text: this.welcomed });
      summary = await running;
      cause = summary.endReason;
      detail = summary.endDetail;
    } catch (err) {
      if (err instanceof CallGone || this.callerGone) {
        cause = this.callerGone ?? (err as CallGone).reason;
      } else {
        cause = this.handle ? 'error' : 'setup_failed';
        detail = (err as Error).message;
        if (err instanceof PortsExhaustedError) this.hangupReason = 'congestion';
        this.log.warn({ err: detail }, this.handle ? 'ARI call failed' : 'ARI call setup failed; cleaning up');
      }
    } finally {
      await this.teardown(cause);
      this.done = true;
    }
    return this.result(cause, detail, summary);
  }

  /** True once the call and its cleanup are over. */
  get finished(): boolean {
    return this.done;
  }

  /** Ends the call from palabre's side (server shutdown). */
  end(reason: CallEndReason): void {
    if (this.endRequest) return;
    this.endRequest = reason;
    if (this.handle) void this.handle.end(reason);
    else this.abort(reason);
  }

  /** After the events WebSocket came back: a caller that vanished meanwhile ends the call. */
  async checkAlive(): Promise<void> {
    if (this.callerGone || this.tearingDown) return;
    try {
      await this.client.request('GET', `/channels/${enc(this.channelId)}`);
    } catch (err) {
      if (err instanceof AriError && err.statusCode === 404) {
        this.log.info('the caller hung up while the events WebSocket was down');
        this.callerLeft('caller_hangup');
      }
    }
  }

  /** An event about the caller, one of the call's own channels, or its playbacks. */
  onEvent(event: KnownAriEvent): void {
    if (event.type === 'PlaybackFinished') return this.settle(`playback:${event.playback.id}`, event.playback.state);
    if (event.type === 'PlaybackStarted') return;
    const id = event.channel.id;
    if (id === this.channelId) return this.onCallerEvent(event);
    if (event.type === 'StasisStart') return this.settle(`stasis:${id}`, true);
    if (event.type === 'ChannelDtmfReceived') return;
    // One of our channels went away.
    this.fail(`stasis:${id}`, new Error(`channel ${id} went away before entering Stasis`));
    if (this.tearingDown) return;
    if (id === this.mediaId) {
      this.log.warn({ event: event.type }, 'the externalMedia channel went away; ending the call');
      this.media?.remoteHangup('transport_error');
      this.abort('transport_error');
    } else if (this.snoopIds.includes(id)) {
      this.log.warn({ snoop: id, event: event.type }, 'a snoop channel went away; its recording stops');
    }
  }

  private onCallerEvent(event: KnownAriEvent): void {
    switch (event.type) {
      case 'ChannelDtmfReceived':
        this.media?.dtmf(event.digit);
        return;
      case 'StasisEnd':
        // Our own continue/redirect takes the caller out of Stasis: that is the transfer working.
        if (this.transferring) return;
        return this.callerLeft('caller_hangup');
      case 'ChannelHangupRequest':
      case 'ChannelDestroyed':
        return this.callerLeft('caller_hangup');
      default:
        return;
    }
  }

  private callerLeft(reason: CallEndReason): void {
    if (this.callerGone) return;
    this.callerGone = reason;
    this.media?.remoteHangup(reason);
    this.abort(reason);
  }

  /** Stops setup where it waits. */
  private abort(reason: CallEndReason): void {
    for (const key of [...this.waiters.keys()]) this.fail(key, new CallGone(reason));
  }

  private check(): void {
    const reason = this.callerGone ?? this.endRequest;
    if (reason) throw new CallGone(reason);
  }

  // ---- setup ----

  private async setup(): Promise<void> {
    const settings = this.settings;
    const welcome = parseWelcome(settings.welcome);
    // Rendered while the call is set up, so the caller does not wait for the synthesis once bridged.
    const speech = welcome?.kind === 'tts' ? this.renderWelcome(welcome.text) : undefined;
    if (settings.mediaEncapsulation === 'rtp') {
      // A port first: with none left, the caller is turned away before being answered.
      this.lease = await this.deps.ports.allocate();
      this.check();
      this.useTransport(
        new RtpIO({
          id: this.channelId,
          lease: this.lease,
          format: settings.format,
          resampler: this.deps.resampler,
          resampleQuality: this.deps.resampleQuality,
          idleTimeoutMs: settings.rtpTimeoutMs,
          counters: this.deps.rtpCounters,
          logger: this.log,
        }),
      );
    }

    await this.rest('POST', `/channels/${enc(this.channelId)}/answer`);
    if (welcome?.kind === 'media') await this.playWelcome(welcome.media);

    this.bridgeId = `${this.settings.app}-bridge-${this.tag}`;
    await this.rest('POST', '/bridges', { type: 'mixing', bridgeId: this.bridgeId, name: `${this.settings.app}-${this.channelId}` }, bridgeSchema);

    if (settings.mediaEncapsulation === 'audiosocket') await this.audioSocketMedia();
    else await this.rtpMedia(this.transport as RtpIO, this.lease as PortLease);
    await this.rest('POST', `/bridges/${enc(this.bridgeId)}/addChannel`, { channel: `${this.channelId},${this.mediaId}` });
    for (const direction of settings.snoopRecord) await this.record(direction);
    if (speech && welcome?.kind === 'tts') await this.speakWelcome(welcome.text, await speech);
  }

  private useTransport(transport: MediaTransport): void {
    this.transport = transport;
    this.media = new AriMediaIO(transport);
    // Until the session listens, media that ends (Asterisk closed the AudioSocket, RTP went silent) stops the setup.
    transport.on('hangup', (reason) => {
      if (!this.handle) this.abort(reason);
    });
  }

  /** An RTP externalMedia channel sending to the leased port; palabre answers wherever Asterisk says it listens. */
  private async rtpMedia(io: RtpIO, lease: PortLease): Promise<void> {
    const settings = this.settings;
    this.mediaId = `${this.settings.app}-rtp-${this.tag}`;
    const entered = this.waitFor(`stasis:${this.mediaId}`, 'the externalMedia channel to enter Stasis');
    this.deps.claim('channel', this.mediaId);
    const host = settings.rtpAdvertiseHost || lease.host;
    const media = await this.rest(
      'POST',
      '/channels/externalMedia',
      { app: settings.app, channelId: this.mediaId, external_host: `${host.includes(':') ? `[${host}]` : host}:${lease.port}`, format: settings.format, encapsulation: 'rtp', transport: 'udp', connection_type: 'client', direction: 'both' },
      channelSchema,
    );
    const vars = media?.channelvars ?? {};
    let address = typeof vars.UNICASTRTP_LOCAL_ADDRESS === 'string' ? vars.UNICASTRTP_LOCAL_ADDRESS : undefined;
    let port = typeof vars.UNICASTRTP_LOCAL_PORT === 'string' || typeof vars.UNICASTRTP_LOCAL_PORT === 'number' ? String(vars.UNICASTRTP_LOCAL_PORT) : undefined;
    // Older Asterisk does not put channelvars in the answer: ask for them.
    address ??= await this.variable(this.mediaId, 'UNICASTRTP_LOCAL_ADDRESS');
    port ??= await this.variable(this.mediaId, 'UNICASTRTP_LOCAL_PORT');
    const portNumber = Number(port);
    if (address && Number.isInteger(portNumber) && portNumber > 0 && portNumber < 65536) io.setRemote({ address, port: portNumber });
    else this.log.warn({ address, port }, 'externalMedia gave no usable UNICASTRTP_LOCAL_ADDRESS/PORT; palabre will answer the address of its first RTP packet');
    await entered;
  }

  /**
   * An AudioSocket externalMedia channel: Asterisk connects to palabre's
   * AudioSocket server and names the UUID chosen here, which the server
   * hands to this call. The UUID is expected before it is asked for, since
   * Asterisk may connect before its REST answer arrives.
   */
  private async audioSocketMedia(): Promise<void> {
    const settings = this.settings;
    const server = this.deps.audioSocket;
    if (!server || !settings.audiosocketHost) throw new Error('ari.mediaEncapsulation is audiosocket but palabre has no AudioSocket server for Asterisk to connect to (enable audiosocket and set ari.audiosocketHost)');
    const uuid = randomUUID();
    this.audioSocketUuid = uuid;
    this.mediaId = `${this.settings.app}-as-${this.tag}`;
    const connectedKey = `audiosocket:${uuid}`;
    const connected = this.waitFor(connectedKey, `Asterisk's AudioSocket connection naming ${uuid} (to ${settings.audiosocketHost})`);
    void server.expect(uuid, { timeoutMs: settings.setupTimeoutMs, wireRate: settings.format === 'slin' ? 8_000 : 16_000, logger: this.log }).then(
      (io) => {
        // Too late: the call gave up (or ended) meanwhile.
        if (!this.waiters.has(connectedKey)) return void io.close('error');
        this.audioSocketUuid = undefined;
        this.settle(connectedKey, io);
      },
      (err: Error) => this.fail(connectedKey, err),
    );
    const entered = this.waitFor(`stasis:${this.mediaId}`, 'the externalMedia channel to enter Stasis');
    this.deps.claim('channel', this.mediaId);
    await this.rest('POST', '/channels/externalMedia', { app: settings.app, channelId: this.mediaId, external_host: settings.audiosocketHost, format: settings.format, encapsulation: 'audiosocket', transport: 'tcp', connection_type: 'client', direction: 'both', data: uuid }, channelSchema);
    const [io] = await Promise.all([connected, entered]);
    this.useTransport(io as MediaTransport);
  }

  private renderWelcome(text: string): Promise<Int16Array | undefined> {
    const language = this.choice?.language ?? this.settings.language;
    if (!this.deps.renderPhrase) {
      this.log.warn({ welcome: text }, 'no voice to speak the tts: welcome with; going on without it');
      return Promise.resolve(undefined);
    }
    return this.deps.renderPhrase(text, language, AbortSignal.timeout(this.settings.setupTimeoutMs)).catch((err: unknown) => {
      this.log.warn({ welcome: text, language, err: err instanceof Error ? err.message : String(err) }, 'could not render the tts: welcome; going on without it');
      return undefined;
    });
  }

  /** The welcome in the call's own voice over the bridged media; the flow starts once it has played out. */
  private async speakWelcome(text: string, samples: Int16Array | undefined): Promise<void> {
    const media = this.media;
    this.check();
    if (!samples || samples.length === 0 || !media) return;
    // What the caller says over the welcome is not an answer to the flow's first question.
    media.muteCaller();
    const ms = writeSpeech(media, samples);
    const played = this.waitFor('welcome:playout', `the welcome (${ms} ms) to play out`, ms + this.settings.setupTimeoutMs);
    void media.waitForPlayout().then(() => this.settle('welcome:playout', true));
    await played;
    this.check();
    media.hearCaller();
    this.welcomed = text;
    this.log.info({ welcome: text, ms }, 'welcome spoken');
  }

  private async playWelcome(media: string): Promise<void> {
    const playbackId = `${this.settings.app}-welcome-${this.tag}`;
    const finished = this.waitFor(`playback:${playbackId}`, `the welcome (${media}) to finish playing`);
    this.deps.claim('playback', playbackId);
    await this.rest('POST', `/channels/${enc(this.channelId)}/play/${enc(playbackId)}`, { media, lang: this.choice?.language }, playbackSchema);
    try {
      const state = await finished;
      if (state === 'failed') this.log.warn({ media }, 'Asterisk could not play the welcome; going on without it');
    } catch (err) {
      if (err instanceof CallGone) throw err;
      this.log.warn({ media, err: (err as Error).message }, 'the welcome did not finish in time; stopping it and going on');
      await this.quietly('DELETE', `/playbacks/${enc(playbackId)}`);
    }
  }

  /** A snoop channel on the caller and an Asterisk recording of it; a failure costs the recording, not the call. */
  private async record(direction: 'in' | 'both'): Promise<void> {
    const snoopId = `${this.settings.app}-snoop-${direction}-${this.tag}`;
    this.snoopIds.push(snoopId);
    try {
      const entered = this.waitFor(`stasis:${snoopId}`, `the ${direction} snoop channel to enter Stasis`);
      this.deps.claim('channel', snoopId);
      await this.rest('POST', `/channels/${enc(this.channelId)}/snoop`, { app: this.settings.app, spy: direction, whisper: 'none', appArgs: 'palabre-snoop', snoopId }, channelSchema);
      await entered;
      const name = `${this.settings.app}-${this.channelId}-${direction}`;
      await this.rest('POST', `/channels/${enc(snoopId)}/record`, { name, format: this.settings.recordingFormat, ifExists: 'overwrite', beep: false, terminateOn: 'none', maxDurationSeconds: 0 });
      this.log.info({ recording: name, direction }, 'Asterisk is recording the call');
    } catch (err) {
      if (err instanceof CallGone) throw err;
      this.deps.onRecordingFailed?.();
      this.log.warn({ direction, err: (err as Error).message }, 'could not record the call on the Asterisk side; the call goes on');
    }
  }

  private async variable(channelId: string, name: string): Promise<string | undefined> {
    try {
      const v = await this.rest('GET', `/channels/${enc(channelId)}/variable`, { variable: name }, variableSchema);
      return v?.value || undefined;
    } catch (err) {
      if (err instanceof AriError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  /** A REST call during setup: the call ends if the caller left meanwhile. */
  private async rest<T>(method: 'GET' | 'POST' | 'DELETE', path: string, query?: AriQuery, schema?: ZodType<T>): Promise<T | undefined> {
    this.check();
    const answer = await this.client.request(method, path, { query, schema });
    this.check();
    return answer;
  }

  private waitFor(key: string, what: string, timeoutMs = this.settings.setupTimeoutMs): Promise<unknown> {
    const waiting = new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(key, new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      this.waiters.set(key, { resolve, reject, timer });
    });
    // Setup may fail before it awaits this; the rejection then has no one to tell.
    waiting.catch(() => undefined);
    return waiting;
  }

  private settle(key: string, value: unknown): void {
    const w = this.waiters.get(key);
    if (!w) return;
    this.waiters.delete(key);
    clearTimeout(w.timer);
    w.resolve(value);
  }

  private fail(key: string, err: Error): void {
    const w = this.waiters.get(key);
    if (!w) return;
    this.waiters.delete(key);
    clearTimeout(w.timer);
    w.reject(err);
  }

  // ---- teardown ----

  private async teardown(cause: AriEndCause): Promise<void> {
    this.tearingDown = true;
    this.abort(this.callerGone ?? 'error');
    // Asterisk's connection, should it still come, is closed by the server instead of becoming a call.
    if (this.audioSocketUuid) this.deps.audioSocket?.cancel(this.audioSocketUuid);
    if (this.transport && !this.transport.isClosed) await this.transport.close(cause === 'setup_failed' || cause === 'bad_flow' ? 'error' : (cause as CallEndReason));
    else if (!this.transport) this.lease?.release();
    await Promise.all([...this.snoopIds, ...(this.mediaId ? [this.mediaId] : [])].map((id) => this.quietly('DELETE', `/channels/${enc(id)}`)));
    if (this.bridgeId) await this.quietly('DELETE', `/bridges/${enc(this.bridgeId)}`);
    if (this.callerGone) return;
    const transferTarget = this.media?.endedBy?.transferTarget;
    if (cause === 'transfer' && transferTarget) {
      if (await this.transfer(transferTarget)) return;
    }
    await this.quietly('DELETE', `/channels/${enc(this.channelId)}`, { reason: this.hangupReason ?? HANGUP_REASON[cause] ?? 'normal' });
  }

  /** Continue in the dialplan (or redirect to an endpoint); false when Asterisk refused, so the caller is hung up instead. */
  private async transfer(target: string): Promise<boolean> {
    const id = enc(this.channelId);
    this.transferring = true;
    try {
      if (ENDPOINT.test(target)) {
        await this.client.request('POST', `/channels/${id}/redirect`, { query: { endpoint: target } });
        this.log.info({ endpoint: target }, 'caller redirected');
        return true;
      }
      // The dialplan can route on the flow's target even when the extension is fixed.
      await this.quietly('POST', `/channels/${id}/variable`, { variable: 'PALABRE_TRANSFER_TARGET', value: target });
      const destination = { context: this.settings.transferContext, extension: this.settings.transferExtension || target, priority: this.settings.transferPriority };
      await this.client.request('POST', `/channels/${id}/continue`, { query: destination });
      this.log.info({ target, ...destination }, 'caller continued in the dialplan');
      return true;
    } catch (err) {
      if (err instanceof AriError && err.statusCode === 404) return true;
      this.transferring = false;
      this.log.error({ target, err: (err as Error).message }, 'transfer failed; hanging up the caller');
      return false;
    }
  }

  /** A cleanup REST call: a channel or bridge already gone is fine, anything else is logged and ignored. */
  private async quietly(method: 'POST' | 'DELETE', path: string, query?: AriQuery): Promise<void> {
    try {
      await this.client.request(method, path, { query });
    } catch (err) {
      if (err instanceof AriError && err.statusCode === 404) return;
      this.log.warn({ method, path, err: (err as Error).message }, 'ARI cleanup call failed');
    }
  }

  private result(cause: AriEndCause, detail: string | undefined, summary?: CallSummary): AriCallEnded {
    const callerId = this.channel.caller.number || undefined;
    return {
      channelId: this.channelId,
      ...(callerId ? { callerId } : {}),
      flow: this.choice?.flow ?? '',
      language: this.choice?.language ?? '',
      cause,
      ...(detail ? { detail } : {}),
      ...(summary ? { summary } : {}),
    };
  }
}

function enc(id: string): string {
  return encodeURIComponent(id);
}
