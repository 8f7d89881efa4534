/* global window, document, fetch, sessionStorage, URLSearchParams, URL, Blob, FormData, Node, setTimeout */
/**
 * The operator page: today's figures, the calls with filters, and one call
 * with its transcript, records, latencies, events and recording. Everything
 * comes from the operator API (docs/operations.md) with the admin token the
 * page is given; the recording plays from the signed link the API hands out,
 * since an <audio> element cannot send a header.
 */

const TOKEN_KEY = 'palabre.adminToken';
const PAGE = 50;

const $ = (id) => document.getElementById(id);
const els = {
  status: $('status'),
  tokenForm: $('token-form'),
  token: $('token'),
  forget: $('forget'),
  error: $('error'),
  stats: $('stats'),
  filters: $('filters'),
  exportCsv: $('export'),
  count: $('count'),
  calls: document.querySelector('#calls tbody'),
  more: $('more'),
  call: $('call'),
  callId: $('call-id'),
  facts: $('call-facts'),
  audio: $('audio'),
  recordingNote: $('recording-note'),
  transcript: $('transcript'),
  records: $('records'),
  latencies: document.querySelector('#latencies tbody'),
  events: $('events'),
};

/** What a test (or the console) can look at. */
const debug = { loaded: false, callsShown: 0, openedCall: null, errors: [] };
window.palabreOperator = debug;

let nextCursor;

function token() {
  return sessionStorage.getItem(TOKEN_KEY) ?? '';
}

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
  if (message) debug.errors.push(message);
}

function setStatus(text, kind = '') {
  els.status.textContent = text;
  els.status.className = `pill ${kind}`;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path) {
  const headers = token() ? { authorization: `Bearer ${token()}` } : {};
  const res = await fetch(path, { headers });
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = (await res.json()).message ?? message;
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, message);
  }
  return res;
}

/** Network and API failures end up here: a message naming the problem, and the token form when it is the token. */
function failed(err) {
  const message = err instanceof ApiError ? err.message : `the server did not answer: ${err.message}`;
  showError(message);
  if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
    setStatus(err.status === 401 ? 'Token needed' : 'Refused', 'busy');
    els.token.focus();
  } else setStatus('Error', 'busy');
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props);
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return node;
}

function figure(label, value) {
  return el('div', {}, el('dt', {}, label), el('dd', {}, value));
}

const time = (iso) => (iso ? new Date(iso).toLocaleString() : '–');
const duration = (ms) => (ms === null || ms === undefined ? '–' : ms < 60_000 ? `${Math.round(ms / 1000)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);
const ms = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} ms`);
const percent = (v) => (v === null || v === undefined ? '–' : `${Math.round(v * 100)} %`);

async function loadStats() {
  const s = await (await api('/api/stats')).json();
  const problems = s.problems.byValue.length > 0 ? s.problems.byValue : s.problems.byKind.map((k) => ({ value: k.kind, count: k.count }));
  els.stats.replaceChildren(
    figure('Calls', s.calls),
    figure('Mean duration', duration(s.meanDurationMs)),
    figure('Unhappy callers', percent(s.sentiment.unhappyShare)),
    figure('Transfers', s.transfers),
    figure('Mean wait per turn', ms(s.turnLatency.meanMs)),
    figure('Problems', problems.map((p) => `${p.value} ${p.count}`).join(', ') || '–'),
  );
  els.stats.title = `${time(s.from)} – ${time(s.to)} (${s.timeZone})`;
}

function filterParams() {
  const params = new URLSearchParams();
  for (const [key, value] of new FormData(els.filters)) if (String(value).trim() !== '') params.set(key, String(value).trim());
  return params;
}

function callRow(c) {
  const open = el('button', { type: 'button', textContent: time(c.startedAt) });
  open.addEventListener('click', () => openCall(c.id).catch(failed));
  const row = el(
    'tr',
    {},
    el('td', {}, open),
    el('td', {}, c.callerId ?? '–'),
    el('td', {}, c.flow),
    el('td', {}, c.transport),
    el('td', {}, el('span', { className: `outcome ${c.outcome}` }, c.outcome.replace('_', ' '))),
    el('td', {}, duration(c.durationMs)),
    el('td', {}, c.sentiment ?? '–'),
    el('td', {}, c.turnCount),
  );
  row.dataset.id = c.id;
  row.addEventListener('click', (e) => {
    if (e.target !== open) open.click();
  });
  return row;
}

async function loadCalls(append = false) {
  const params = filterParams();
  params.set('limit', String(PAGE));
  if (append && nextCursor) params.set('cursor', nextCursor);
  const page = await (await api(`/api/calls?${params}`)).json();
  if (!append) els.calls.replaceChildren();
  for (const c of page.items) els.calls.append(callRow(c));
  nextCursor = page.next;
  els.more.hidden = !nextCursor;
  debug.callsShown = els.calls.children.length;
  els.count.textContent = `${page.total} call${page.total === 1 ? '' : 's'}${page.total > debug.callsShown ? `, ${debug.callsShown} shown` : ''}`;
}

function transcriptLine(t) {
  const line = el('li', { className: `line ${t.speaker}${t.cut ? ' cut' : ''}` });
  line.append(el('span', { className: 'who' }, `${t.speaker} · ${(t.atMs / 1000).toFixed(1)} s${t.intent ? ` · ${t.intent}` : ''}`));
  if (t.cut) line.append(el('span', {}, t.heard ?? '', ' ', el('del', {}, t.text.slice((t.heard ?? '').length)), ' ', el('span', { className: 'tag' }, 'cut')));
  else line.append(el('span', {}, t.text || '(no words)'));
  return line;
}

async function openCall(id) {
  const d = await (await api(`/api/calls/${encodeURIComponent(id)}`)).json();
  const c = d.call;
  for (const row of els.calls.children) row.classList.toggle('selected', row.dataset.id === id);
  els.call.hidden = false;
  els.callId.textContent = c.id;
  els.facts.replaceChildren(
    figure('Started', time(c.startedAt)),
    figure('Caller', c.callerId ?? '–'),
    figure('Flow', `${c.flow} (${c.language})`),
    figure('Transport', c.transport),
    figure('Outcome', `${c.outcome}${c.endReason ? ` (${c.endReason})` : ''}`),
    figure('Duration', duration(c.durationMs)),
    figure('Mood', c.sentiment ? `${c.sentiment} (${c.sentimentScore})` : '–'),
    figure('Mean wait', ms(d.latencies.endOfTurnToFirstAudio.mean)),
    figure('p95 wait', ms(d.latencies.endOfTurnToFirstAudio.p95)),
    figure('Cost', c.cost ?? '–'),
  );
  if (d.recording) {
    els.audio.hidden = false;
    els.audio.src = new URL(d.recording.url, window.location.href).href;
    els.recordingNote.textContent = `${d.recording.format}, ${d.recording.channels === 2 ? 'caller left, bot right' : `${d.recording.channels} channel(s)`}${d.recording.complete ? '' : ', incomplete'}`;
  } else {
    els.audio.removeAttribute('src');
    els.audio.hidden = true;
    els.recordingNote.textContent = 'No recording for this call.';
  }
  els.transcript.replaceChildren(...d.turns.map(transcriptLine));
  els.records.replaceChildren(...d.records.map((r) => el('li', {}, el('strong', {}, r.kind), ` · ${time(r.createdAt)}`, el('pre', {}, JSON.stringify(r.data, null, 2)))));
  if (d.records.length === 0) els.records.append(el('li', { className: 'hint' }, 'None'));
  els.latencies.replaceChildren(...d.latencies.turns.map((t) => el('tr', {}, el('td', {}, t.turn), el('td', {}, t.endOfTurnToFirstAudioMs ?? '–'), el('td', {}, t.sttMs ?? '–'), el('td', {}, t.dialogMs ?? '–'))));
  els.events.replaceChildren(...d.events.map((e) => el('li', {}, `${(e.atMs / 1000).toFixed(1)} s ${e.type} ${JSON.stringify(e.data)}`)));
  debug.openedCall = id;
  els.call.scrollIntoView({ block: 'start' });
}

async function exportCsv() {
  const res = await api(`/api/calls.csv?${filterParams()}`);
  const blob = new Blob([await res.arrayBuffer()], { type: 'text/csv' });
  const link = el('a', { href: URL.createObjectURL(blob), download: 'calls.csv' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

async function load() {
  showError('');
  setStatus('Loading…', 'busy');
  await loadStats();
  await loadCalls();
  setStatus(token() ? 'Signed in' : 'Open (localhost)', 'live');
  debug.loaded = true;
}

els.tokenForm.addEventListener('submit', (e) => {
  e.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, els.token.value.trim());
  els.token.value = '';
  load().catch(failed);
});
els.forget.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  window.location.reload();
});
els.filters.addEventListener('submit', (e) => {
  e.preventDefault();
  showError('');
  loadCalls().catch(failed);
});
els.more.addEventListener('click', () => loadCalls(true).catch(failed));
els.exportCsv.addEventListener('click', () => exportCsv().catch(failed));
els.audio.addEventListener('error', () => showError(`the recording did not play (${els.audio.error?.message || `media error ${els.audio.error?.code}`})`));

load().catch(failed);
