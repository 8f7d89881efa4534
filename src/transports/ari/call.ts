/**
 * One call in the Stasis application, from StasisStart to the last REST
 * call: answer, an optional welcome (waiting for PlaybackFinished), an RTP
 * port, a mixing bridge, an externalMedia channel (RTP over UDP) whose
 * Asterisk side is read from UNICASTRTP_LOCAL_ADDRESS/PORT, both channels
 * bridged, optional snoop channels recording the caller, then the flow runs
 * over the RtpIO. However it ends (the caller hangs up, the bot hangs up or
 * transfers, a REST call fails during setup, the server stops), everything
 * the call created is deleted exactly once, and the caller is hung up with
 * a reason, continued in the dialplan, or redirected.
 */
import { randomUUID } from 'node:crypto';
import type { ZodType } from 'zod';
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallSummary } from '../../call/events.js';
import type { CallMeta } from '../../call/factory.js';
import type { CallEndReason } from '../../call/io.js';
import type { Config } from '../../config.js';
import type { Logger } from '../../log.js';
import type { RtpCounters } from '../rtp/counters.js';
import { PortsExhaustedError, type PortLease, type PortPool } from '../rtp/port-pool.js';
import { RtpIO } from '../rtp/rtp-io.js';
import { type AriFlowChoice } from './choose-flow.js';
import { AriError, type AriClient, type AriQuery } from './client.js';
import { bridgeSchema, channelSchema, playbackSchema, variableSchema, type AriChannel, type KnownAriEvent } from './events.js';

/** How an ARI call ended: the call's own reason, or why it never ran. */
export type AriEndCause = CallEndReason | 'setup_failed' | 'bad_flow' | 'refused';

export const ARI_END_CAUSES: readonly AriEndCause[] = ['caller_hangup', 'bot_hangup', 'transfer', 'transport_error', 'timeout', 'server_shutdown', 'error', 'setup_failed', 'bad_flow', 'refused'];

export type AriSettings = Config['ari'];

/** The running call, as a call session exposes it. */
export interface AriCallHandle {
  run(): Promise<CallSummary>;
  end(reason: CallEndReason, detail?: string): Promise<unknown>;
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
  createCall: (args: { io: RtpIO; meta: CallMeta; logger: Logger }) => Promise<AriCallHandle>;
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
  private io: RtpIO | undefined;
  private handle: AriCallHandle | undefined;
  private bridgeId: string | undefined;
  private mediaId: string | undefined;
  private readonly snoopIds: string[] = [];
  private closedWith: { reason: CallEndReason; transferTarget?: string } | undefined;
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
      this.handle = await this.deps.createCall({ io: this.io as RtpIO, meta, logger: this.log });
      // Ended while the session was being built: it still runs, and sees the IO already closed.
      if (this.endRequest) void this.handle.end(this.endRequest);
      this.log.info({ flow: meta.flow, language: meta.language, rtpPort: this.lease?.port }, 'ARI call started');
      summary = await this.handle.run();
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
      this.io?.remoteHangup('transport_error');
      this.abort('transport_error');
    } else if (this.snoopIds.includes(id)) {
      this.log.warn({ snoop: id, event: event.type }, 'a snoop channel went away; its recording stops');
    }
  }

  private onCallerEvent(event: KnownAriEvent): void {
    switch (event.type) {
      case 'ChannelDtmfReceived':
        this.io?.dtmf(event.digit);
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
    this.io?.remoteHangup(reason);
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
    // A port first: with none left, the caller is turned away before being answered.
    this.lease = await this.deps.ports.allocate();
    this.check();
    this.io = new RtpIO({
      id: this.channelId,
      lease: this.lease,
      format: settings.format,
      resampler: this.deps.resampler,
      resampleQuality: this.deps.resampleQuality,
      idleTimeoutMs: settings.rtpTimeoutMs,
      counters: this.deps.rtpCounters,
      logger: this.log,
      onClose: (reason, detail, byUs) => {
        if (byUs) this.closedWith = { reason, transferTarget: detail?.transferTarget };
      },
    });

    await this.rest('POST', `/channels/${enc(this.channelId)}/answer`);
    if (settings.welcome) await this.playWelcome(settings.welcome);

    this.bridgeId = `${this.settings.app}-bridge-${this.tag}`;
    await this.rest('POST', '/bridges', { type: 'mixing', bridgeId: this.bridgeId, name: `${this.settings.app}-${this.channelId}` }, bridgeSchema);

    this.mediaId = `${this.settings.app}-rtp-${this.tag}`;
    const entered = this.waitFor(`stasis:${this.mediaId}`, 'the externalMedia channel to enter Stasis');
    this.deps.claim('channel', this.mediaId);
    const host = settings.rtpAdvertiseHost || this.lease.host;
    const media = await this.rest(
      'POST',
      '/channels/externalMedia',
      { app: settings.app, channelId: this.mediaId, external_host: `${host.includes(':') ? `[${host}]` : host}:${this.lease.port}`, format: settings.format, encapsulation: 'rtp', transport: 'udp', connection_type: 'client', direction: 'both' },
      channelSchema,
    );
    const vars = media?.channelvars ?? {};
    let address = typeof vars.UNICASTRTP_LOCAL_ADDRESS === 'string' ? vars.UNICASTRTP_LOCAL_ADDRESS : undefined;
    let port = typeof vars.UNICASTRTP_LOCAL_PORT === 'string' || typeof vars.UNICASTRTP_LOCAL_PORT === 'number' ? String(vars.UNICASTRTP_LOCAL_PORT) : undefined;
    // Older Asterisk does not put channelvars in the answer: ask for them.
    address ??= await this.variable(this.mediaId, 'UNICASTRTP_LOCAL_ADDRESS');
    port ??= await this.variable(this.mediaId, 'UNICASTRTP_LOCAL_PORT');
    const portNumber = Number(port);
    if (address && Number.isInteger(portNumber) && portNumber > 0 && portNumber < 65536) this.io.setRemote({ address, port: portNumber });
    else this.log.warn({ address, port }, 'externalMedia gave no usable UNICASTRTP_LOCAL_ADDRESS/PORT; palabre will answer the address of its first RTP packet');
    await entered;
    await this.rest('POST', `/bridges/${enc(this.bridgeId)}/addChannel`, { channel: `${this.channelId},${this.mediaId}` });
    for (const direction of settings.snoopRecord) await this.record(direction);
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

  private waitFor(key: string, what: string): Promise<unknown> {
    const waiting = new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.fail(key, new Error(`timed out after ${this.settings.setupTimeoutMs} ms waiting for ${what}`)), this.settings.setupTimeoutMs);
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
    if (this.io && !this.io.isClosed) await this.io.close(cause === 'setup_failed' || cause === 'bad_flow' ? 'error' : (cause as CallEndReason));
    else if (!this.io) this.lease?.release();
    await Promise.all([...this.snoopIds, ...(this.mediaId ? [this.mediaId] : [])].map((id) => this.quietly('DELETE', `/channels/${enc(id)}`)));
    if (this.bridgeId) await this.quietly('DELETE', `/bridges/${enc(this.bridgeId)}`);
    if (this.callerGone) return;
    if (cause === 'transfer' && this.closedWith?.transferTarget) {
      if (await this.transfer(this.closedWith.transferTarget)) return;
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
