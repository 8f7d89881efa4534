/**
 * An Asterisk ARI server written from the REST docs (Channels, Bridges,
 * Playbacks, Events; shared/PROTOCOLS.md §2) and Asterisk's res_ari.c
 * behaviour, independent of palabre's ARI code: HTTP Basic auth (401 with
 * `{"message": "Authentication required"}` and WWW-Authenticate), errors as
 * `{"message": …}` with the statuses the docs list, the events WebSocket at
 * /ari/events?app=…, and channels that behave as Asterisk's do: a caller
 * entering Stasis, externalMedia channels (chan_rtp) with their
 * UNICASTRTP_LOCAL_ADDRESS/PORT and an RTP peer (./rtp-peer.ts) that streams
 * the caller once bridged, AudioSocket externalMedia channels
 * (encapsulation=audiosocket, transport=tcp; chan_audiosocket) that connect
 * to external_host as an AudioSocket client (./asterisk-audiosocket.ts),
 * send the `data` UUID and stream the caller once bridged, snoop channels, recordings refused on a bridged
 * channel, playbacks with Started/Finished events, continue and redirect.
 * Channels palabre creates enter Stasis a moment after the REST answer, as
 * they do in Asterisk, so a client that does not wait for StasisStart gets
 * the 422 that Asterisk would give.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { AsteriskAudioSocket, uuidFrame } from './asterisk-audiosocket.js';
import { RtpPeer, type RtpImpairments, type RtpPeerFormat } from './rtp-peer.js';

export { RtpPeer } from './rtp-peer.js';

const HANGUP_REASONS = new Set(['normal', 'busy', 'congestion', 'no_answer', 'timeout', 'rejected', 'unallocated', 'normal_unspecified', 'number_incomplete', 'codec_mismatch', 'interworking', 'failure', 'answered_elsewhere']);
const SNOOP_DIRECTIONS = new Set(['none', 'both', 'out', 'in']);
const RECORDING_FORMATS = new Set(['wav', 'gsm', 'sln', 'sln16', 'ulaw', 'alaw', 'g722', 'wav16']);

export interface EmuChannel {
  id: string;
  name: string;
  state: 'Ring' | 'Up' | 'Down';
  caller: { name: string; number: string };
  inStasis: boolean;
  bridge?: string;
  kind: 'caller' | 'media' | 'snoop';
  variables: Record<string, string>;
  peer?: RtpPeer;
  /** The AudioSocket connection of an AudioSocket externalMedia channel. */
  audioSocket?: AsteriskAudioSocket;
  /** How the channel left: hung up (and why), continued, redirected. */
  left?: { how: 'hangup' | 'deleted' | 'continue' | 'redirect'; reason?: string; context?: string; extension?: string; priority?: string; endpoint?: string };
  createdAt: string;
}

export interface RequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface FaultRule {
  method: string;
  /** Matched against the path after /ari. */
  path: RegExp;
  status: number;
  message: string;
  times?: number;
}

export interface AsteriskAriOptions {
  username?: string;
  password?: string;
  /** Put UNICASTRTP_* in the externalMedia answer (Asterisk 16.6+). Default true. */
  channelvarsInAnswer?: boolean;
  /** How long a `sound:` playback lasts. Default 300 ms. */
  playbackMs?: number;
  /** Delay before a channel palabre created enters Stasis. Default 30 ms. */
  stasisDelayMs?: number;
  /** Impairments of the caller's RTP stream. */
  impair?: RtpImpairments;
  /** Payload type the RTP peer sends (Asterisk's static one for the format by default). */
  payloadType?: number;
  /** Whether the RTP peers keep every packet palabre sends (RtpPeerOptions.keepReceived). Default true; the call benchmark turns it off. */
  keepReceived?: boolean;
  /** AudioSocket externalMedia channels connect to external_host. Default true; false answers the REST call but never connects (a connection that goes elsewhere). */
  audioSocketConnects?: boolean;
}

class Deferred<T> {
  readonly promise: Promise<T>;
  resolve!: (v: T) => void;
  constructor() {
    this.promise = new Promise((r) => (this.resolve = r));
  }
}

/** One call coming into the Stasis app, as the test drives it. */
export class EmulatedCall {
  readonly left = new Deferred<EmuChannel['left']>();
  private readonly bridged = new Deferred<RtpPeer>();
  private readonly socketBridged = new Deferred<AsteriskAudioSocket>();
  private kind: 'rtp' | 'audiosocket' | undefined;

  constructor(
    private readonly ari: AsteriskAri,
    readonly channel: EmuChannel,
  ) {}

  get id(): string {
    return this.channel.id;
  }

  /** The RTP peer once palabre bridged an externalMedia channel with the caller. */
  media(timeoutMs = 10_000): Promise<RtpPeer> {
    return Promise.race([this.bridged.promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no externalMedia channel bridged with ${this.id} within ${timeoutMs} ms`)), timeoutMs))]);
  }

  /** The AudioSocket connection once palabre bridged an AudioSocket externalMedia channel with the caller. */
  audioSocket(timeoutMs = 10_000): Promise<AsteriskAudioSocket> {
    return Promise.race([this.socketBridged.promise, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no AudioSocket externalMedia channel bridged with ${this.id} within ${timeoutMs} ms`)), timeoutMs))]);
  }

  /** @internal */
  mediaReady(peer: RtpPeer | AsteriskAudioSocket): void {
    if (peer instanceof RtpPeer) {
      this.kind ??= 'rtp';
      this.bridged.resolve(peer);
    } else {
      this.kind ??= 'audiosocket';
      this.socketBridged.resolve(peer);
    }
  }

  async say(samples: Int16Array): Promise<void> {
    if (this.kind === 'audiosocket') return (await this.audioSocket()).say(samples);
    const peer = await this.media();
    await peer.say(samples);
  }

  /** Keypad digits, each a ChannelDtmfReceived event. */
  async dtmf(digits: string, gapMs = 150): Promise<void> {
    for (const digit of digits) {
      this.ari.event({ type: 'ChannelDtmfReceived', digit, duration_ms: 100, channel: this.ari.channelJson(this.channel) });
      await new Promise((r) => setTimeout(r, gapMs));
    }
  }

  /** The caller hangs up: ChannelHangupRequest, leaves the bridge, StasisEnd, ChannelDestroyed. */
  hangup(): void {
    this.ari.hangupChannel(this.channel, { how: 'hangup', reason: 'caller' }, true);
  }
}

export class AsteriskAri {
  readonly requests: RequestLog[] = [];
  readonly channels = new Map<string, EmuChannel>();
  readonly bridges = new Map<string, { id: string; channels: string[] }>();
  readonly playbacks = new Map<string, { id: string; media: string; channel: string; state: string }>();
  readonly recordings: Array<{ name: string; format: string; channel: string; target: EmuChannel['kind'] }> = [];
  /** Every event sent, in order. */
  readonly sentEvents: Array<Record<string, unknown>> = [];
  /** Events WebSocket handshakes refused for bad credentials. */
  wsAuthFailures = 0;
  wsConnections = 0;
  private readonly options: Required<Omit<AsteriskAriOptions, 'impair' | 'payloadType' | 'keepReceived'>> & Pick<AsteriskAriOptions, 'impair' | 'payloadType' | 'keepReceived'>;
  /** AudioSocket externalMedia channels streaming the caller (bridged with one). */
  private readonly streaming = new Set<AsteriskAudioSocket>();
  private readonly server: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly faults: FaultRule[] = [];
  private readonly calls = new Map<string, EmulatedCall>();
  private seq = 0;
  private readonly connectWaiters: Array<() => void> = [];
  url = '';

  private constructor(options: AsteriskAriOptions) {
    this.options = { username: 'palabre', password: 'secret', channelvarsInAnswer: true, playbackMs: 300, stasisDelayMs: 30, audioSocketConnects: true, ...options };
    this.server = createServer((req, res) => void this.onRequest(req, res));
    this.wss = new WebSocketServer({ noServer: true });
    this.server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const refuse = (status: number, text: string, message: string) => {
        socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nWWW-Authenticate: Basic realm="Asterisk REST Interface"\r\nConnection: close\r\n\r\n${JSON.stringify({ message })}`);
      };
      if (url.pathname !== '/ari/events') return refuse(404, 'Not Found', 'Resource not found');
      if (!this.authorised(req, url)) {
        this.wsAuthFailures++;
        return refuse(401, 'Unauthorized', 'Authentication required');
      }
      if (!url.searchParams.get('app')) return refuse(400, 'Bad Request', 'Missing required param app');
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.add(ws);
        this.wsConnections++;
        ws.on('close', () => this.sockets.delete(ws));
        ws.on('error', () => undefined);
        for (const w of this.connectWaiters.splice(0)) w();
      });
    });
  }

  static async start(options: AsteriskAriOptions = {}): Promise<AsteriskAri> {
    const ari = new AsteriskAri(options);
    await new Promise<void>((r) => ari.server.listen(0, '127.0.0.1', r));
    ari.url = `http://127.0.0.1:${(ari.server.address() as AddressInfo).port}`;
    return ari;
  }

  get connectedClients(): number {
    return this.sockets.size;
  }

  /** Resolves once an events WebSocket is connected. */
  async whenConnected(timeoutMs = 10_000): Promise<void> {
    if (this.sockets.size > 0) return;
    await Promise.race([new Promise<void>((r) => this.connectWaiters.push(r)), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no events WebSocket connected in time')), timeoutMs))]);
  }

  /** The next `times` requests matching method and path fail with this status and message. */
  failNext(rule: FaultRule): void {
    this.faults.push({ times: 1, ...rule });
  }

  /** Cuts every events WebSocket, as an Asterisk restart or a network drop would. */
  dropEventSockets(): void {
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
  }

  /** A raw text message on every events WebSocket. */
  sendRaw(text: string): void {
    for (const ws of this.sockets) ws.send(text);
  }

  /** An event to the app (lost when no WebSocket is connected, as in Asterisk). */
  event(body: Record<string, unknown>): void {
    const event = { ...body, application: 'palabre', timestamp: new Date().toISOString(), asterisk_id: '02:42:ac:11:00:02' };
    this.sentEvents.push(event);
    const text = JSON.stringify(event);
    for (const ws of this.sockets) ws.send(text);
  }

  /**
   * A caller entering `Stasis(palabre,<args>)`. Like Asterisk, a channel entering
   * an app that has no WebSocket connected is not kept (this throws).
   */
  call(options: { number?: string; args?: string[]; variables?: Record<string, string>; /** Channel id; Asterisk's `<epoch>.<n>` form by default. */ id?: string } = {}): EmulatedCall {
    if (this.sockets.size === 0) throw new Error('no WebSocket connected for the app: Asterisk would eject the channel');
    ++this.seq;
    const id = options.id ?? `${Math.floor(Date.now() / 1000)}.${this.seq}`;
    if (this.channels.has(id)) throw new Error(`a channel ${id} already exists`);
    const channel: EmuChannel = { id, name: `PJSIP/caller-${String(this.seq).padStart(8, '0')}`, state: 'Ring', caller: { name: '', number: options.number ?? '' }, inStasis: true, kind: 'caller', variables: { ...options.variables }, createdAt: new Date().toISOString() };
    this.channels.set(id, channel);
    const call = new EmulatedCall(this, channel);
    this.calls.set(id, call);
    this.event({ type: 'StasisStart', args: options.args ?? [], channel: this.channelJson(channel) });
    return call;
  }

  /** Channels still alive that palabre created (externalMedia and snoops). */
  liveOwnChannels(): EmuChannel[] {
    return [...this.channels.values()].filter((c) => c.kind !== 'caller' && !c.left);
  }

  async close(): Promise<void> {
    for (const c of this.channels.values()) {
      c.peer?.close();
      c.audioSocket?.destroy();
    }
    for (const ws of this.sockets) ws.terminate();
    this.wss.close();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  // ---- channel behaviour ----

  channelJson(c: EmuChannel, withVars = false): Record<string, unknown> {
    return {
      id: c.id,
      name: c.name,
      state: c.state,
      protocol_id: '',
      caller: c.caller,
      connected: { name: '', number: '' },
      accountcode: '',
      dialplan: { context: 'from-phones', exten: '100', priority: 2, app_name: 'Stasis', app_data: 'palabre' },
      creationtime: c.createdAt,
      language: 'en',
      ...(withVars ? { channelvars: { UNICASTRTP_LOCAL_ADDRESS: c.variables.UNICASTRTP_LOCAL_ADDRESS, UNICASTRTP_LOCAL_PORT: c.variables.UNICASTRTP_LOCAL_PORT } } : {}),
    };
  }

  /** @internal A channel goes away; `request` when the caller hung up (ChannelHangupRequest first). */
  hangupChannel(c: EmuChannel, left: NonNullable<EmuChannel['left']>, request: boolean): void {
    if (c.left) return;
    if (request) this.event({ type: 'ChannelHangupRequest', cause: 16, channel: this.channelJson(c) });
    this.leaveBridge(c);
    c.left = left;
    c.state = 'Down';
    c.peer?.close();
    // chan_audiosocket closes the socket; Asterisk never sends a hangup frame.
    c.audioSocket?.hangup(false);
    const wasInStasis = c.inStasis;
    c.inStasis = false;
    if (wasInStasis) this.event({ type: 'StasisEnd', channel: this.channelJson(c) });
    this.event({ type: 'ChannelDestroyed', cause: 16, cause_txt: 'Normal Clearing', channel: this.channelJson(c) });
    this.channels.delete(c.id);
    this.calls.get(c.id)?.left.resolve(left);
    // Gone for good: a long run (the call benchmark) must not keep every call it ever had.
    this.calls.delete(c.id);
  }

  private leaveStasis(c: EmuChannel, left: NonNullable<EmuChannel['left']>): void {
    this.leaveBridge(c);
    c.inStasis = false;
    c.left = left;
    this.event({ type: 'StasisEnd', channel: this.channelJson(c) });
    this.calls.get(c.id)?.left.resolve(left);
  }

  private leaveBridge(c: EmuChannel): void {
    if (!c.bridge) return;
    const bridge = this.bridges.get(c.bridge);
    c.bridge = undefined;
    if (!bridge) return;
    bridge.channels = bridge.channels.filter((id) => id !== c.id);
    if (c.kind === 'media') this.stopMedia(c);
    this.updateMedia(bridge);
  }

  private stopMedia(c: EmuChannel): void {
    c.peer?.stop();
    if (c.audioSocket && this.streaming.delete(c.audioSocket)) c.audioSocket.stop();
  }

  /** Media flows through a bridge holding a caller and an externalMedia channel, and stops otherwise. */
  private updateMedia(bridge: { channels: string[] }): void {
    const members = bridge.channels.map((id) => this.channels.get(id)).filter((c): c is EmuChannel => c !== undefined);
    const caller = members.find((c) => c.kind === 'caller');
    for (const m of members) {
      if (m.kind !== 'media') continue;
      if (!caller) {
        this.stopMedia(m);
        continue;
      }
      if (m.peer) {
        m.peer.start();
        this.calls.get(caller.id)?.mediaReady(m.peer);
      } else if (m.audioSocket) {
        if (!this.streaming.has(m.audioSocket)) m.audioSocket.startStreaming();
        this.streaming.add(m.audioSocket);
        this.calls.get(caller.id)?.mediaReady(m.audioSocket);
      }
    }
  }

  private enterStasisLater(c: EmuChannel, args: string[]): void {
    setTimeout(() => {
      if (c.left) return;
      c.inStasis = true;
      c.state = 'Up';
      this.event({ type: 'StasisStart', args, channel: this.channelJson(c) });
    }, this.options.stasisDelayMs);
  }

  // ---- HTTP ----

  private authorised(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization;
    let creds: string | undefined;
    if (header?.startsWith('Basic ')) creds = Buffer.from(header.slice(6), 'base64').toString();
    else creds = url.searchParams.get('api_key') ?? undefined;
    return creds === `${this.options.username}:${this.options.password}`;
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams.entries());
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const path = url.pathname.replace(/^\/ari/, '');
    const reply = (status: number, json?: unknown, headers: Record<string, string> = {}) => {
      this.requests.push({ method, path, query, status });
      res.writeHead(status, { ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers });
      res.end(json !== undefined ? JSON.stringify(json) : undefined);
    };
    const error = (status: number, message: string) => reply(status, { message });
    if (!url.pathname.startsWith('/ari/')) return error(404, 'Resource not found');
    if (!this.authorised(req, url)) return reply(401, { message: 'Authentication required' }, { 'www-authenticate': 'Basic realm="Asterisk REST Interface"' });
    if (path.endsWith('/')) return error(404, `ARI URLs do not end with a slash. Try /ari${path.slice(0, -1)}`);
    const fault = this.faults.find((f) => f.method === method && f.path.test(path));
    if (fault) {
      fault.times = (fault.times ?? 1) - 1;
      if (fault.times <= 0) this.faults.splice(this.faults.indexOf(fault), 1);
      return error(fault.status, fault.message);
    }
    if (body) {
      try {
        const json = JSON.parse(body) as Record<string, unknown>;
        for (const [k, v] of Object.entries(json)) if (k !== 'variables' && typeof v !== 'object') query[k] = String(v);
      } catch {
        return error(400, 'Error parsing request body');
      }
    }
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      this.route(method, seg, query, reply, error);
    } catch (err) {
      error(500, `emulator: ${(err as Error).message}`);
    }
  }

  private route(method: string, seg: string[], q: Record<string, string>, reply: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): void {
    const [resource, id, action, sub] = seg;
    if (resource === 'channels' && id === 'externalMedia' && method === 'POST' && seg.length === 2) return void this.externalMedia(q, reply, error);
    if (resource === 'channels' && id) {
      const c = this.channels.get(id);
      if (!c) return error(404, action === 'variable' ? 'Channel or variable not found' : 'Channel not found');
      if (!action) {
        if (method === 'GET') return reply(200, this.channelJson(c));
        if (method === 'DELETE') {
          if (q.reason && q.reason_code) return error(400, 'The reason and reason_code can not both be specified');
          if (q.reason && !HANGUP_REASONS.has(q.reason)) return error(400, 'Invalid reason for hangup provided');
          reply(204);
          this.hangupChannel(c, { how: 'deleted', reason: q.reason ?? 'normal' }, false);
          return;
        }
      }
      if (method === 'GET' && action === 'variable') {
        if (!q.variable) return error(400, 'Variable name is required');
        const value = c.variables[q.variable];
        if (value === undefined) return error(404, 'Provided variable was not found');
        return reply(200, { value });
      }
      if (method === 'POST') {
        if (action === 'variable') {
          if (!q.variable) return error(400, 'Variable name is required');
          c.variables[q.variable] = q.value ?? '';
          return reply(204);
        }
        if (action === 'snoop') return this.snoop(c, q, reply, error);
        if (!c.inStasis) return error(409, 'Channel not in Stasis application');
        if (action === 'answer') {
          c.state = 'Up';
          return reply(204);
        }
        if (action === 'play') return this.play(c, sub ?? q.playbackId ?? randomUUID(), q, reply, error);
        if (action === 'record') {
          if (!q.name || !q.format) return error(400, 'Invalid parameters');
          if (c.bridge) return error(409, 'Channel is currently bridged');
          if (!RECORDING_FORMATS.has(q.format)) return error(422, `Unrecognized format: ${q.format}`);
          this.recordings.push({ name: q.name, format: q.format, channel: c.id, target: c.kind });
          return reply(201, { name: q.name, format: q.format, state: 'queued', target_uri: `channel:${c.id}` });
        }
        if (action === 'continue') {
          reply(204);
          this.leaveStasis(c, { how: 'continue', context: q.context, extension: q.extension, priority: q.priority });
          return;
        }
        if (action === 'redirect') {
          if (!q.endpoint) return error(400, 'Required parameter endpoint not provided');
          if (!q.endpoint.includes('/')) return error(400, 'Endpoint parameter must be of the form tech/resource');
          reply(204);
          this.leaveStasis(c, { how: 'redirect', endpoint: q.endpoint });
          return;
        }
      }
      return error(404, 'Resource not found');
    }
    if (resource === 'bridges') {
      if (!id && method === 'POST') {
        const bridgeId = q.bridgeId ?? randomUUID();
        const bridge = this.bridges.get(bridgeId) ?? { id: bridgeId, channels: [] };
        this.bridges.set(bridgeId, bridge);
        return reply(200, { id: bridgeId, technology: 'simple_bridge', bridge_type: 'mixing', bridge_class: 'stasis', creator: 'Stasis', name: q.name ?? '', channels: bridge.channels, creationtime: new Date().toISOString(), video_mode: 'none' });
      }
      const bridge = id ? this.bridges.get(id) : undefined;
      if (!bridge) return error(404, 'Bridge not found');
      if (method === 'DELETE' && !action) {
        for (const cid of [...bridge.channels]) {
          const c = this.channels.get(cid);
          if (!c) continue;
          c.bridge = undefined;
          if (c.kind === 'media') this.stopMedia(c);
        }
        bridge.channels = [];
        this.bridges.delete(bridge.id);
        return reply(204);
      }
      if (method === 'POST' && action === 'addChannel') {
        const ids = (q.channel ?? '').split(',').filter(Boolean);
        if (ids.length === 0) return error(400, 'Missing parameter channel');
        const members = ids.map((cid) => this.channels.get(cid));
        if (members.some((c) => !c)) return error(400, 'Channel not found');
        if (members.some((c) => !c?.inStasis)) return error(422, 'Channel not in Stasis application');
        for (const c of members as EmuChannel[]) {
          if (c.bridge && c.bridge !== bridge.id) this.leaveBridge(c);
          c.bridge = bridge.id;
          if (!bridge.channels.includes(c.id)) bridge.channels.push(c.id);
        }
        reply(204);
        this.updateMedia(bridge);
        return;
      }
      return error(404, 'Resource not found');
    }
    if (resource === 'playbacks' && id && method === 'DELETE') {
      const p = this.playbacks.get(id);
      if (!p) return error(404, 'Playback not found');
      this.playbacks.delete(id);
      reply(204);
      this.event({ type: 'PlaybackFinished', playback: { id, media_uri: p.media, target_uri: `channel:${p.channel}`, language: 'en', state: 'done' } });
      return;
    }
    return error(404, 'Resource not found');
  }

  private externalMedia(q: Record<string, string>, reply: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): void {
    if (!q.app || !q.external_host || !q.format) return error(400, 'Invalid parameters: app, external_host and format are required');
    const encapsulation = q.encapsulation ?? 'rtp';
    const transport = q.transport ?? 'udp';
    if ((q.direction ?? 'both') !== 'both') return error(400, 'Unrecognized direction');
    // res_ari_channels.c: rtp+udp and audiosocket+tcp are the only pairs; anything else is 501.
    if (encapsulation === 'audiosocket' && transport === 'tcp') return void this.audioSocketMedia(q, reply, error);
    if (encapsulation !== 'rtp' || transport !== 'udp') return error(501, 'The encapsulation and/or transport is not supported');
    if (!['slin16', 'slin', 'ulaw'].includes(q.format)) return error(400, `Unrecognized format: ${q.format}`);
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(q.external_host);
    if (!m) return error(400, 'Invalid external_host, expected host:port');
    const channelId = q.channelId ?? randomUUID();
    if (this.channels.has(channelId)) return error(409, 'Channel with given unique ID already exists');
    void (async () => {
      const peer = await RtpPeer.open({ format: q.format as RtpPeerFormat, impair: this.options.impair, payloadType: this.options.payloadType, keepReceived: this.options.keepReceived });
      peer.setRemote(m[1], Number(m[2]));
      const c: EmuChannel = {
        id: channelId,
        name: `UnicastRTP/${q.external_host}-0x${randomUUID().slice(0, 8)}`,
        state: 'Down',
        caller: { name: '', number: '' },
        inStasis: false,
        kind: 'media',
        variables: { UNICASTRTP_LOCAL_ADDRESS: peer.address.address, UNICASTRTP_LOCAL_PORT: String(peer.address.port) },
        peer,
        createdAt: new Date().toISOString(),
      };
      this.channels.set(channelId, c);
      reply(200, this.channelJson(c, this.options.channelvarsInAnswer));
      this.enterStasisLater(c, []);
    })();
  }

  /** chan_audiosocket: connects to external_host while the channel is created, sends the UUID once called, streams once bridged. */
  private async audioSocketMedia(q: Record<string, string>, reply: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): Promise<void> {
    if (!q.data) return error(400, 'data can not be empty');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(q.data)) return error(400, 'Failed to parse UUID');
    const kinds: Record<string, number> = { slin16: 0x12, slin: 0x10 };
    const kind = kinds[q.format];
    if (kind === undefined) return error(501, `emulator: AudioSocket externalMedia in slin or slin16 only, not ${q.format}`);
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(q.external_host);
    if (!m) return error(400, 'Invalid external_host, expected host:port');
    const channelId = q.channelId ?? randomUUID();
    if (this.channels.has(channelId)) return error(409, 'Channel with given unique ID already exists');
    let socket: AsteriskAudioSocket | undefined;
    if (this.options.audioSocketConnects) {
      try {
        socket = await AsteriskAudioSocket.connect({ host: m[1], port: Number(m[2]), uuid: q.data, kind, sendUuid: false });
      } catch (err) {
        return error(500, `Allocation failed: ${(err as Error).message}`);
      }
    }
    const c: EmuChannel = {
      id: channelId,
      name: `AudioSocket/${q.external_host}-${q.data}`,
      state: 'Down',
      caller: { name: '', number: '' },
      inStasis: false,
      kind: 'media',
      variables: { AUDIOSOCKET_UUID: q.data, AUDIOSOCKET_SERVICE: q.external_host },
      audioSocket: socket,
      createdAt: new Date().toISOString(),
    };
    this.channels.set(channelId, c);
    reply(200, this.channelJson(c));
    if (socket) {
      socket.write(uuidFrame(q.data));
      // palabre closing the connection hangs the channel up, as chan_audiosocket's failed read does.
      void socket.closed.then(() => {
        if (!c.left && this.channels.get(c.id) === c) this.hangupChannel(c, { how: 'hangup', reason: 'audiosocket closed' }, false);
      });
    }
    this.enterStasisLater(c, []);
  }

  private snoop(c: EmuChannel, q: Record<string, string>, reply: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): void {
    if (!q.app) return error(400, 'Required parameter app not provided');
    if (!SNOOP_DIRECTIONS.has(q.spy ?? 'none') || !SNOOP_DIRECTIONS.has(q.whisper ?? 'none')) return error(400, 'Invalid direction specified');
    if ((q.spy ?? 'none') === 'none' && (q.whisper ?? 'none') === 'none') return error(400, 'Sppy or whisper direction must be specified');
    const id = q.snoopId ?? randomUUID();
    const snoop: EmuChannel = { id, name: `Snoop/${c.id}-${randomUUID().slice(0, 8)}`, state: 'Up', caller: { name: '', number: '' }, inStasis: false, kind: 'snoop', variables: { SNOOP_SPY: q.spy ?? 'none' }, createdAt: new Date().toISOString() };
    this.channels.set(id, snoop);
    reply(200, this.channelJson(snoop));
    this.enterStasisLater(snoop, q.appArgs ? q.appArgs.split(',') : []);
  }

  private play(c: EmuChannel, playbackId: string, q: Record<string, string>, reply: (status: number, json?: unknown) => void, error: (status: number, message: string) => void): void {
    if (!q.media) return error(400, 'Required parameter media not provided');
    const media = q.media;
    const playback = { id: playbackId, media, channel: c.id, state: 'queued' };
    this.playbacks.set(playbackId, playback);
    const json = (state: string) => ({ id: playbackId, media_uri: media, target_uri: `channel:${c.id}`, language: q.lang ?? 'en', state });
    reply(201, json('queued'));
    const known = /^(sound|recording|number|digits|characters|tone):/.test(media);
    setTimeout(() => {
      if (!this.playbacks.has(playbackId)) return;
      if (!known) {
        this.playbacks.delete(playbackId);
        this.event({ type: 'PlaybackFinished', playback: json('failed') });
        return;
      }
      playback.state = 'playing';
      this.event({ type: 'PlaybackStarted', playback: json('playing') });
      setTimeout(() => {
        if (!this.playbacks.delete(playbackId)) return;
        this.event({ type: 'PlaybackFinished', playback: json('done') });
      }, this.options.playbackMs);
    }, 10);
  }
}
