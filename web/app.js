/* global window, document, navigator, fetch, WebSocket, AudioContext, URL, URLSearchParams, Option, setTimeout, clearTimeout */
/**
 * The demo page: start a browser session on a flow, talk to it with the
 * microphone, hear it, and watch the transcript, state, intent and barge-ins
 * as the server reports them. Protocol: src/transports/browser/protocol.ts.
 */
import { Downsampler, Framer, Player, floatToPcm16, rms, startCapture } from './audio.js';

/** Rate of the audio we send, and so of the audio the server sends back. */
const RATE = 16000;
const TOKEN_PROTOCOL = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const MAX_DEBUG_EVENTS = 1000;

/** Counters a test (or a curious person with the console open) can read. */
const debug = {
  botFrames: 0,
  botBytes: 0,
  micFrames: 0,
  clears: 0,
  /** Bot audio the page had scheduled when the last `clear` came, and what was left after it, in ms. */
  lastClearDroppedMs: 0,
  bufferedAfterClearMs: 0,
  events: [],
  errors: [],
  ready: false,
  ended: null,
};
window.palabreDebug = debug;

const $ = (id) => document.getElementById(id);
const els = {
  form: $('start-form'),
  flow: $('flow'),
  flowDescription: $('flow-description'),
  language: $('language'),
  token: $('token'),
  start: $('start'),
  hangup: $('hangup'),
  error: $('error'),
  connection: $('connection'),
  state: $('state'),
  intent: $('intent'),
  botStatus: $('bot-status'),
  bargeIn: $('barge-in'),
  micLevel: $('mic-level'),
  latency: $('latency'),
  keypad: $('keypad'),
  transcript: $('transcript'),
  partial: $('partial'),
  events: $('events'),
};

let flows = [];
/** The call in progress: { ws, ctx, player, stopCapture, ended }. */
let call = null;
let bargeIns = 0;
let bargeTimer;

// ---------- helpers ----------

function authHeaders() {
  const token = els.token.value.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api(path, options = {}) {
  const headers = { ...authHeaders() };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method: options.method || 'GET', headers, body: options.body === undefined ? undefined : JSON.stringify(options.body) });
  let data = null;
  try {
    data = await res.json();
  } catch {
    // Not JSON: the status says enough.
  }
  if (!res.ok) {
    const message = (data && data.message) || `${res.status} ${res.statusText}`;
    throw new Error(res.status === 401 ? `${message}. Enter the server's access token.` : message);
  }
  return data;
}

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
  if (message) debug.errors.push(message);
}

function setConnection(text, kind) {
  els.connection.textContent = text;
  els.connection.className = `pill ${kind || ''}`;
}

function setInCall(active) {
  els.start.disabled = active;
  els.flow.disabled = active;
  els.language.disabled = active;
  els.hangup.disabled = !active;
  for (const b of els.keypad.querySelectorAll('button')) b.disabled = !active;
}

function addEventLine(text) {
  const li = document.createElement('li');
  li.textContent = text;
  els.events.append(li);
}

function scrollTranscript() {
  els.transcript.scrollTop = els.transcript.scrollHeight;
}

function addLine(ev) {
  els.transcript.querySelector('.placeholder')?.remove();
  const li = document.createElement('li');
  li.className = `line ${ev.role}${ev.cut ? ' cut' : ''}`;
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = ev.role === 'caller' ? 'You' : 'Bot';
  const text = document.createElement('span');
  text.className = 'text';
  if (ev.cut) {
    // What was heard stays readable; what the interruption dropped is struck through.
    const heard = ev.heard || '';
    const rest = ev.text.startsWith(heard) ? ev.text.slice(heard.length) : '';
    text.append(document.createTextNode(heard || (rest ? '' : ev.text)));
    if (rest) {
      // The space between heard and dropped words is not struck through.
      const gap = rest.match(/^\s*/)[0];
      if (gap) text.append(gap);
      const del = document.createElement('del');
      del.textContent = rest.slice(gap.length);
      del.title = 'not played: you interrupted';
      text.append(del);
    }
    const tag = document.createElement('span');
    tag.className = 'tag';
    tag.textContent = 'cut';
    text.append(' ', tag);
  } else {
    text.textContent = ev.text;
  }
  if (typeof ev.confidence === 'number' && ev.role === 'caller') li.title = `STT confidence ${ev.confidence.toFixed(2)}`;
  li.append(who, text);
  els.transcript.append(li);
  els.partial.textContent = '';
  scrollTranscript();
}

function addStateLine(to) {
  const li = document.createElement('li');
  li.className = 'state-change';
  li.textContent = `→ ${to}`;
  els.transcript.querySelector('.placeholder')?.remove();
  els.transcript.append(li);
  scrollTranscript();
}

function showBargeIn(outcome) {
  const labels = {
    detected: 'you interrupted the bot',
    confirmed: 'interruption kept',
    false: 'false alarm: the bot resumed',
  };
  if (outcome === 'detected') bargeIns++;
  els.bargeIn.textContent = `${labels[outcome] || outcome} (${bargeIns})`;
  els.bargeIn.className = `badge ${outcome === 'false' ? 'warn' : 'on'}`;
  clearTimeout(bargeTimer);
  bargeTimer = setTimeout(() => {
    els.bargeIn.className = 'badge off';
    els.bargeIn.textContent = bargeIns ? `${bargeIns} so far` : 'none';
  }, 2500);
}

// ---------- server messages ----------

function onEvent(ev) {
  debug.events.push(ev);
  if (debug.events.length > MAX_DEBUG_EVENTS) debug.events.shift();
  switch (ev.type) {
    case 'transcript':
      addLine(ev);
      break;
    case 'partial':
      els.partial.textContent = ev.text ? `You: ${ev.text}…` : '';
      break;
    case 'state':
      els.state.textContent = ev.to;
      addStateLine(ev.to);
      break;
    case 'intent': {
      const name = ev.intent === null ? 'not understood' : ev.intent;
      els.intent.textContent = `${name} · ${Math.round(ev.confidence * 100)} % (${ev.source})`;
      break;
    }
    case 'barge-in':
      showBargeIn(ev.outcome);
      break;
    case 'bot-audio':
      els.botStatus.textContent = ev.phase === 'start' ? 'speaking' : 'silent';
      break;
    case 'turn': {
      const t = ev.timeline;
      if (typeof t.firstAudioOutMs === 'number') els.latency.textContent = `${Math.round(t.firstAudioOutMs - t.endOfTurnMs)} ms after your turn ended`;
      break;
    }
    case 'dtmf':
      addEventLine(`key ${ev.digit}${ev.accepted ? '' : ' (ignored in this state)'}`);
      break;
    case 'no-input':
      addEventLine(`no answer heard (${ev.count})`);
      break;
    case 'record':
      addEventLine(`record saved: ${ev.kind} ${JSON.stringify(ev.data)}`);
      break;
    case 'effect':
      if (!ev.ok) addEventLine(`${ev.kind} failed: ${ev.error || 'unknown error'}`);
      break;
    case 'error':
      addEventLine(`${ev.stage} error: ${ev.message}`);
      break;
    case 'call-ended':
      addEventLine(`call ended: ${ev.reason}${ev.detail ? ` (${ev.detail})` : ''}`);
      break;
    default:
      break;
  }
}

function onMessage(msg) {
  switch (msg.type) {
    case 'ready':
      debug.ready = true;
      setConnection(`In a call · ${msg.flow} (${msg.language})`, 'live');
      setInCall(true);
      break;
    case 'event':
      onEvent(msg.event);
      break;
    case 'clear':
      debug.clears++;
      if (call) {
        debug.lastClearDroppedMs = Math.round(call.player.bufferedMs);
        call.player.clear();
        debug.bufferedAfterClearMs = Math.round(call.player.bufferedMs);
      }
      break;
    case 'error':
      showError(msg.message);
      break;
    case 'ended':
      debug.ended = msg.reason;
      endCall(`Call ended (${msg.reason.replace(/_/g, ' ')})`, false);
      break;
    default:
      break;
  }
}

// ---------- the call ----------

function openSocket(wsUrl, token) {
  // Same origin as the page, whatever the server believes its address is (a TLS proxy in front, say).
  const url = new URL(new URL(wsUrl).pathname, window.location.href);
  url.protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  // Browsers cannot set Authorization on a WebSocket: the token rides as a subprotocol, or in the query.
  if (token && TOKEN_PROTOCOL.test(token)) return new WebSocket(url.toString(), ['palabre', `bearer.${token}`]);
  if (token) url.searchParams.set('token', token);
  return new WebSocket(url.toString(), ['palabre']);
}

async function openMicrophone() {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
  } catch (err) {
    if (err.name === 'NotAllowedError') throw new Error('microphone access was refused: allow it for this page and start again', { cause: err });
    if (err.name === 'NotFoundError') throw new Error('no microphone found: plug one in and start again', { cause: err });
    throw new Error(`cannot open the microphone: ${err.message}`, { cause: err });
  }
}

async function startCall(event) {
  event.preventDefault();
  if (call) return;
  showError('');
  setInCall(true);
  els.hangup.disabled = true;
  setConnection('Starting…', 'busy');
  const ctx = new AudioContext();
  let stream;
  try {
    await ctx.resume();
    if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no microphone access here (the page needs https or localhost)');
    stream = await openMicrophone();
    const session = await api('/api/session/start', { method: 'POST', body: { flow: els.flow.value, language: els.language.value } });
    resetView();
    const ws = openSocket(session.ws_url, els.token.value.trim());
    ws.binaryType = 'arraybuffer';
    const player = new Player(ctx, RATE, (playing) => {
      els.botStatus.textContent = playing ? 'speaking' : 'silent';
    });
    call = { ws, ctx, player, stopCapture: null, ended: false, sessionId: session.session_id };
    const current = call;
    ws.onopen = async () => {
      ws.send(JSON.stringify({ type: 'start', sampleRate: RATE }));
      const down = new Downsampler(ctx.sampleRate, RATE);
      const framer = new Framer(RATE, (frame) => {
        if (ws.readyState !== WebSocket.OPEN) return;
        ws.send(frame.buffer);
        debug.micFrames++;
      });
      try {
        current.stopCapture = await startCapture(ctx, stream, (block) => {
          els.micLevel.value = Math.min(1, rms(block) * 4);
          framer.push(floatToPcm16(down.process(block)));
        });
        if (current.ended) current.stopCapture();
      } catch (err) {
        showError(`cannot capture the microphone: ${err.message}`);
        hangUp();
      }
    };
    ws.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) {
        debug.botFrames++;
        debug.botBytes += m.data.byteLength;
        current.player.push(new Int16Array(m.data));
      } else {
        try {
          onMessage(JSON.parse(m.data));
        } catch (err) {
          debug.errors.push(`bad message from server: ${err.message}`);
        }
      }
    };
    ws.onclose = (e) => {
      if (!current.ended) endCall(e.code === 1000 ? 'Call ended' : `Disconnected: ${e.reason || `code ${e.code}`}`, e.code !== 1000);
    };
  } catch (err) {
    for (const track of stream?.getTracks() || []) track.stop();
    void ctx.close();
    call = null;
    setInCall(false);
    setConnection('Not connected');
    showError(err.message);
  }
}

/** Stops sending; lets what the bot already said finish playing unless `cutAudio`. */
function endCall(text, cutAudio) {
  const c = call;
  if (!c || c.ended) return;
  c.ended = true;
  c.stopCapture?.();
  if (cutAudio) c.player.clear();
  const linger = c.player.bufferedMs + 300;
  setTimeout(() => void c.ctx.close(), linger);
  if (c.ws.readyState === WebSocket.OPEN) c.ws.close(1000, 'page left the call');
  call = null;
  setInCall(false);
  els.micLevel.value = 0;
  setConnection(text, 'ended');
}

function hangUp() {
  if (!call) return;
  if (call.ws.readyState === WebSocket.OPEN) call.ws.send(JSON.stringify({ type: 'hangup' }));
  call.player.clear();
  call.stopCapture?.();
  els.hangup.disabled = true;
}

function sendDigit(digit) {
  if (!call || call.ws.readyState !== WebSocket.OPEN) return;
  call.ws.send(JSON.stringify({ type: 'dtmf', digit }));
}

function resetView() {
  els.transcript.replaceChildren();
  els.events.replaceChildren();
  els.partial.textContent = '';
  els.state.textContent = '–';
  els.intent.textContent = '–';
  els.latency.textContent = '–';
  els.botStatus.textContent = 'silent';
  bargeIns = 0;
  els.bargeIn.className = 'badge off';
  els.bargeIn.textContent = 'none';
  debug.ready = false;
  debug.ended = null;
}

// ---------- flows ----------

function fillLanguages() {
  const flow = flows.find((f) => f.id === els.flow.value);
  const wanted = new URLSearchParams(window.location.search).get('language');
  els.language.replaceChildren();
  for (const lang of flow ? flow.languages : []) {
    const opt = document.createElement('option');
    opt.value = lang;
    opt.textContent = { en: 'English', fr: 'Français' }[lang] || lang;
    els.language.append(opt);
  }
  if (wanted && flow?.languages.includes(wanted)) els.language.value = wanted;
  els.flowDescription.textContent = flow ? flow.description || '' : '';
}

async function loadFlows() {
  try {
    const data = await api('/api/session/flows');
    flows = data.flows;
    els.flow.replaceChildren();
    for (const f of flows) {
      const opt = document.createElement('option');
      opt.value = f.id;
      opt.textContent = f.available ? f.id : `${f.id} (unavailable: ${f.needs_llm ? 'needs a language model' : 'invalid'})`;
      opt.disabled = !f.available;
      els.flow.append(opt);
    }
    const wanted = new URLSearchParams(window.location.search).get('flow');
    const first = flows.find((f) => f.id === wanted && f.available) || flows.find((f) => f.available);
    if (first) els.flow.value = first.id;
    else showError('no flow can run on this server');
    fillLanguages();
    showError('');
  } catch (err) {
    els.flow.replaceChildren(new Option('(no flows)', ''));
    showError(`cannot list flows: ${err.message}`);
  }
}

// ---------- wiring ----------

els.form.addEventListener('submit', startCall);
els.hangup.addEventListener('click', hangUp);
els.flow.addEventListener('change', fillLanguages);
els.token.addEventListener('change', loadFlows);
els.keypad.addEventListener('click', (e) => {
  const digit = e.target.closest('button')?.dataset.digit;
  if (digit) sendDigit(digit);
});
document.addEventListener('keydown', (e) => {
  if (!call || e.ctrlKey || e.metaKey || e.altKey) return;
  if (['INPUT', 'SELECT', 'TEXTAREA'].includes(document.activeElement?.tagName)) return;
  if (/^[0-9*#]$/.test(e.key)) sendDigit(e.key);
});
window.addEventListener('beforeunload', () => call?.ws.close(1001, 'page closed'));
void loadFlows();
