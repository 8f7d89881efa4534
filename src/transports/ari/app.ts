/**
 * The Stasis application: listens to the app's ARI events, starts a call
 * for each channel Asterisk hands it (not for the externalMedia and snoop
 * channels palabre creates itself, which enter the same app), routes every
 * later event to the call it concerns, and refuses calls beyond the cap.
 * Events about channels nobody owns are counted and ignored; one call's
 * failure never reaches another.
 */
import type { ResamplerFactory } from '../../audio/resample.js';
import type { CallFactory } from '../../call/factory.js';
import type { CallEndReason } from '../../call/io.js';
import type { FlowRegistry } from '../../dialog/loader.js';
import { PalabreError } from '../../errors.js';
import { silentLogger, type Logger } from '../../log.js';
import type { AudioSocketServer } from '../audiosocket/server.js';
import { createRtpCounters, type RtpCounters } from '../rtp/counters.js';
import { PortPool } from '../rtp/port-pool.js';
import { ARI_END_CAUSES, AriCall, type AriCallEnded, type AriEndCause, type AriSettings } from './call.js';
import { checkFlowChoice, chooseAriFlow } from './choose-flow.js';
import { AriError, type AriClient } from './client.js';
import type { AriChannel, AriEvent, KnownAriEvent } from './events.js';

export interface AriAppOptions {
  client: AriClient;
  settings: AriSettings;
  flows: () => Promise<FlowRegistry>;
  createCall: CallFactory;
  resampler: ResamplerFactory;
  resampleQuality?: number;
  /** Default: a pool over settings.rtpHost and rtpPortMin–rtpPortMax. */
  ports?: PortPool;
  logger?: Logger;
  /** Where Asterisk's AudioSocket connections arrive; required when settings.mediaEncapsulation is audiosocket. */
  audioSocket?: Pick<AudioSocketServer, 'expect' | 'cancel'>;
  /** Told once per call after everything it created is gone. */
  onCallEnded?: (info: AriCallEnded) => void;
}

export interface AriCounters {
  callsStarted: number;
  callsEnded: number;
  active: number;
  /** Calls hung up at once because maxCalls were running. */
  refusedCapacity: number;
  /** Channel and playback events about nothing palabre owns. */
  ignoredEvents: number;
  /** Asterisk-side recordings that could not be started. */
  recordingFailures: number;
  /** Calls ended, by cause. */
  ended: Record<AriEndCause, number>;
}

/** Routes stay a while after a call ended, so the echoes of its own cleanup are not taken for strangers. */
const ROUTE_GRACE_MS = 10_000;

export class AriStasisApp {
  readonly counters: AriCounters;
  readonly rtpCounters: RtpCounters = createRtpCounters();
  readonly ports: PortPool;
  private readonly options: AriAppOptions;
  private readonly client: AriClient;
  private readonly settings: AriSettings;
  private readonly logger: Logger;
  private readonly routes = new Map<string, AriCall>();
  private readonly calls = new Map<AriCall, Promise<void>>();
  private closing = false;

  constructor(options: AriAppOptions) {
    if (options.settings.mediaEncapsulation === 'audiosocket' && (!options.audioSocket || !options.settings.audiosocketHost)) {
      throw new PalabreError('config_invalid', 'ari.mediaEncapsulation is audiosocket: palabre\'s AudioSocket server must run (audiosocket.enabled) and ari.audiosocketHost must say where Asterisk reaches it');
    }
    this.options = options;
    this.client = options.client;
    this.settings = options.settings;
    this.logger = options.logger ?? silentLogger;
    this.ports = options.ports ?? new PortPool({ host: options.settings.rtpHost, min: options.settings.rtpPortMin, max: options.settings.rtpPortMax });
    this.counters = { callsStarted: 0, callsEnded: 0, active: 0, refusedCapacity: 0, ignoredEvents: 0, recordingFailures: 0, ended: Object.fromEntries(ARI_END_CAUSES.map((c) => [c, 0])) as Record<AriEndCause, number> };
  }

  /** Subscribes to the events and opens the WebSocket (reconnecting on its own). */
  start(): void {
    this.client.on('event', this.onEvent);
    this.client.on('connected', this.onConnected);
    this.client.start();
  }

  /** Ends every call with `server_shutdown`, waits for their cleanup, and closes the WebSocket. */
  async close(): Promise<void> {
    this.closing = true;
    for (const call of this.calls.keys()) call.end('server_shutdown' satisfies CallEndReason);
    await Promise.all(this.calls.values());
    this.client.off('event', this.onEvent);
    this.client.off('connected', this.onConnected);
    await this.client.stop();
  }

  private readonly onConnected = ({ reconnect }: { reconnect: boolean }): void => {
    if (!reconnect) return;
    // Hangups that happened while the WebSocket was down were never heard: ask.
    for (const call of this.calls.keys()) void call.checkAlive();
  };

  private readonly onEvent = (event: AriEvent): void => {
    if (event.type === 'other') return;
    if (event.type === 'PlaybackStarted' || event.type === 'PlaybackFinished') {
      const call = this.routes.get(`playback:${event.playback.id}`);
      if (call) call.onEvent(event);
      else this.ignore(event);
      return;
    }
    const call = this.routes.get(`channel:${event.channel.id}`);
    // A caller the dialplan sends back into Stasis after its call ended (a transfer that came back) is a new call.
    const again = call?.finished === true && call.channelId === event.channel.id && event.type === 'StasisStart';
    if (call && !again) return call.onEvent(event);
    if (event.type === 'StasisStart') return this.startCall(event.channel, event.args);
    this.ignore(event);
  };

  private ignore(event: KnownAriEvent): void {
    this.counters.ignoredEvents++;
    this.logger.debug({ type: event.type, id: 'channel' in event ? event.channel.id : event.playback.id }, 'ARI event about nothing palabre owns; ignored');
  }

  private startCall(channel: AriChannel, args: readonly string[]): void {
    if (channel.id.startsWith(`${this.settings.app}-`) || args[0] === 'palabre-snoop') {
      // One of ours whose call has already ended: it is being deleted.
      return;
    }
    if (this.closing || this.counters.active >= this.settings.maxCalls) {
      this.counters.refusedCapacity++;
      this.counters.ended.refused++;
      this.logger.warn({ channel: channel.id, maxCalls: this.settings.maxCalls }, this.closing ? 'ARI call refused: palabre is stopping' : `ARI call refused: already ${this.settings.maxCalls} calls, the limit`);
      void this.client.request('DELETE', `/channels/${encodeURIComponent(channel.id)}`, { query: { reason: 'congestion' } }).catch(() => undefined);
      return;
    }
    const log = this.logger.child({ transport: 'ari' });
    const call = new AriCall(channel, args, {
      client: this.client,
      settings: this.settings,
      ports: this.ports,
      resampler: this.options.resampler,
      resampleQuality: this.options.resampleQuality,
      rtpCounters: this.rtpCounters,
      logger: log,
      chooseFlow: async (stasisArgs) => {
        const choice = await chooseAriFlow(stasisArgs, (name) => this.readVariable(channel.id, name), { flow: this.settings.flow, language: this.settings.language });
        if (choice.unknownArgs.length > 0) log.warn({ channel: channel.id, args: choice.unknownArgs }, 'Stasis arguments palabre does not know (it reads flow=… and language=…); ignored');
        checkFlowChoice(await this.options.flows(), choice);
        return { flow: choice.flow, language: choice.language };
      },
      createCall: (a) => this.options.createCall(a),
      renderPhrase: this.options.createCall.renderPhrase,
      audioSocket: this.options.audioSocket,
      claim: (kind, id) => this.routes.set(`${kind}:${id}`, call),
      onRecordingFailed: () => this.counters.recordingFailures++,
    });
    this.routes.set(`channel:${channel.id}`, call);
    this.counters.callsStarted++;
    this.counters.active++;
    const done = call.run().then((ended) => {
      this.counters.active--;
      this.counters.callsEnded++;
      this.counters.ended[ended.cause]++;
      this.calls.delete(call);
      log.info({ channel: ended.channelId, cause: ended.cause, detail: ended.detail, endReason: ended.summary?.endReason }, 'ARI call ended');
      setTimeout(() => {
        for (const [key, owner] of this.routes) if (owner === call) this.routes.delete(key);
      }, ROUTE_GRACE_MS).unref();
      try {
        this.options.onCallEnded?.(ended);
      } catch (err) {
        log.error({ err }, 'onCallEnded failed');
      }
    });
    this.calls.set(call, done);
  }

  private async readVariable(channelId: string, name: string): Promise<string | undefined> {
    try {
      const v = await this.client.request<{ value?: unknown }>('GET', `/channels/${encodeURIComponent(channelId)}/variable`, { query: { variable: name } });
      return typeof v?.value === 'string' && v.value !== '' ? v.value : undefined;
    } catch (err) {
      // Unset variables answer 404 on some Asterisk versions.
      if (err instanceof AriError && err.statusCode === 404) return undefined;
      throw err;
    }
  }

  get activeCalls(): number {
    return this.counters.active;
  }
}
