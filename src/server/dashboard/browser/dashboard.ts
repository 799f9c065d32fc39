// The triggers page's script (dashboard.html). The hub serves it with its types stripped, no build step
// (../assets.ts). It polls the dashboard's data routes every two seconds; dead letters are inspected and
// replayed from the detail panel.

import type {
  DeadLetterRow,
  PageData,
  ReplayResponse,
  TriggerDetail,
  TriggerRow,
  TriggersResponse,
} from './api.ts';

/** `''` for the live dead-letter queue, `'backfill'` for what backfills dead-lettered. */
type Lane = '' | 'backfill';

const headers = { 'x-trigger-hub': '1', 'content-type': 'application/json' };
let selected = new URLSearchParams(location.hash.slice(1)).get('trigger');
let entries = new Map<string, DeadLetterRow>();
let toastTimer: number | undefined;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

const page = JSON.parse(byId('page-data').textContent ?? '{}') as PageData;
byId('sign-out').hidden = !page.signOut;

const escapes: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};
const esc = (v: unknown) => String(v ?? '').replace(/[&<>"']/g, (c) => escapes[c]!);
const pct = (r: number) => (r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0) + '%';
const dur = (seconds: number | undefined | null) =>
  seconds === undefined || seconds === null
    ? '–'
    : seconds < 1
      ? Math.round(seconds * 1000) + ' ms'
      : seconds < 90
        ? seconds.toFixed(seconds < 10 ? 1 : 0) + ' s'
        : seconds < 5400
          ? Math.round(seconds / 60) + ' min'
          : (seconds / 3600).toFixed(1) + ' h';
const ago = (iso: string | undefined) => {
  if (!iso) return '–';
  const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
  return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : new Date(iso).toLocaleString();
};
const cards = (list: Array<[unknown, string]>) =>
  list.map(([v, l]) => '<div class="card"><b>' + esc(v) + '</b><span>' + esc(l) + '</span></div>').join('');

async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch('/dashboard/api/' + path, { ...init, headers, credentials: 'same-origin' });
  if (res.status === 401) {
    location.href = '/dashboard/login';
    throw new Error('signed out');
  }
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body as T;
}

function toast(text: string) {
  const t = byId('toast');
  t.textContent = text;
  t.style.display = 'block';
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    t.style.display = 'none';
  }, 4000);
}

function state(t: TriggerRow) {
  if (t.state !== 'running') return '<span class="pill ' + esc(t.state) + '">' + esc(t.state) + '</span>';
  if (t.health && !t.health.connected)
    return '<span class="pill disconnected" title="' + esc(t.health.message) + '">disconnected</span>';
  return '<span class="pill running">running</span>';
}

function renderTriggers(list: TriggerRow[]) {
  const sum = (f: (t: TriggerRow) => number | undefined) => list.reduce((n, t) => n + (f(t) || 0), 0);
  byId('cards').innerHTML = cards([
    [list.filter((t) => t.state === 'running').length + ' / ' + list.length, 'triggers running'],
    [sum((t) => t.stats.qps).toFixed(2), 'deliveries / s'],
    [sum((t) => t.depth), 'events queued'],
    [sum((t) => t.deadLetters), 'dead letters'],
    [sum((t) => t.stats.totals.delivered), 'delivered since start'],
  ]);
  byId('triggers').innerHTML =
    list.length === 0
      ? '<tr><td colspan="12" class="muted">No triggers. Add Trigger YAML to the triggers directory (or Trigger resources in the cluster).</td></tr>'
      : list
          .map((t) => {
            const err = t.error || t.stats.recentErrors[0]?.message || '';
            return (
              '<tr class="trigger' +
              (t.key === selected ? ' selected' : '') +
              '" data-trigger="' +
              esc(t.key) +
              '">' +
              '<td><b>' +
              esc(t.key) +
              '</b><div class="muted"><code>' +
              esc(t.origin) +
              '</code></div></td>' +
              '<td>' +
              esc(t.source ?? '–') +
              '</td><td class="truncate" title="' +
              esc(t.target) +
              '">' +
              esc(t.target ?? '–') +
              '</td>' +
              '<td>' +
              state(t) +
              '</td><td class="num">' +
              t.stats.qps.toFixed(2) +
              '</td>' +
              '<td class="num' +
              (t.stats.failureRate > 0 ? ' bad' : '') +
              '">' +
              pct(t.stats.failureRate) +
              '</td>' +
              '<td class="num">' +
              esc(t.depth ?? '–') +
              '</td>' +
              '<td class="num" data-oldest-age>' +
              esc(dur(t.oldestEventAgeSeconds)) +
              '</td>' +
              '<td class="num" data-age-p99>' +
              esc(dur(t.stats.eventAge?.p99Seconds)) +
              '</td>' +
              '<td class="num' +
              ((t.deadLetters ?? 0) > 0 ? ' bad' : '') +
              '" data-dead-letters>' +
              esc(t.deadLetters ?? '–') +
              '</td>' +
              '<td class="num" data-delivered>' +
              esc(t.stats.totals.delivered) +
              '</td>' +
              '<td class="truncate bad" title="' +
              esc(err) +
              '">' +
              esc(err) +
              '</td></tr>'
            );
          })
          .join('');
  for (const row of document.querySelectorAll<HTMLTableRowElement>('tr.trigger'))
    row.onclick = () => {
      selected = row.dataset.trigger!;
      location.hash = 'trigger=' + encodeURIComponent(selected);
      refresh();
    };
}

function renderDetails(d: TriggerDetail) {
  const el = byId('details');
  entries = new Map([...d.deadLetterEntries, ...d.backfillDeadLetterEntries].map((e) => [e.jobId, e]));
  const s = d.stats;
  el.hidden = false;
  el.innerHTML =
    '<h2>' +
    esc(d.key) +
    ' ' +
    state(d) +
    '</h2>' +
    '<div class="cards">' +
    cards([
      [s.qps.toFixed(2), 'deliveries / s (10 s)'],
      [pct(s.failureRate), 'failed attempts (1 min)'],
      [s.lastMinute.received, 'received (1 min)'],
      [d.depth ?? 0, 'queued'],
      [dur(d.oldestEventAgeSeconds), 'oldest waiting event'],
      [
        s.eventAge ? dur(s.eventAge.p50Seconds) + ' / ' + dur(s.eventAge.p99Seconds) : '–',
        'event age at delivery p50 / p99 (last ' + (s.eventAge?.deliveries ?? 0) + ')',
      ],
      [d.deadLetterCount, 'dead letters'],
      [s.totals.replayed, 'replayed'],
      [ago(s.lastEventAt || d.health?.lastEventAt), 'last event'],
    ]) +
    '</div>' +
    (d.health?.message ? '<p class="muted">source: ' + esc(d.health.message) + '</p>' : '') +
    '<div class="grid"><div><h3>Last delivered events</h3>' +
    (d.recentEvents.length === 0
      ? '<p class="muted">none in the last hour</p>'
      : '<table><thead><tr><th>id</th><th>type</th><th>delivered</th></tr></thead><tbody>' +
        d.recentEvents
          .map(
            (e) =>
              '<tr data-event-id="' +
              esc(e.id) +
              '"><td><code>' +
              esc(e.id) +
              '</code></td><td>' +
              esc(e.type) +
              '</td><td>' +
              esc(ago(e.deliveredAt)) +
              '</td></tr>',
          )
          .join('') +
        '</tbody></table>') +
    '</div><div><h3>Recent errors</h3>' +
    (s.recentErrors.length === 0
      ? '<p class="muted">none since the hub started</p>'
      : '<ul class="errors">' +
        s.recentErrors
          .map(
            (e) =>
              '<li><span class="muted">' +
              esc(ago(e.at)) +
              ' · ' +
              esc(e.kind) +
              '</span> ' +
              esc(e.message) +
              '</li>',
          )
          .join('') +
        '</ul>') +
    '</div></div>' +
    '<h3>Dead letters (' +
    esc(d.deadLetterCount) +
    ') ' +
    (d.deadLetterCount > 0 ? '<button class="act primary" id="replay-all">Replay all</button>' : '') +
    '</h3>' +
    (d.deadLetterEntries.length === 0
      ? '<p class="muted">The dead-letter queue is empty.</p>'
      : deadLetterTable(d.deadLetterEntries, '')) +
    // What backfills dead-lettered: shown only when there is some; a replay moves it into the live queue.
    (d.backfillDeadLetterCount === 0
      ? ''
      : '<h3>Backfill dead letters (' +
        esc(d.backfillDeadLetterCount) +
        ') <button class="act primary" id="replay-all-backfill">Replay all into the live queue</button></h3>' +
        deadLetterTable(d.backfillDeadLetterEntries, 'backfill'));
  for (const b of el.querySelectorAll<HTMLElement>('[data-inspect]'))
    b.onclick = () => inspect(b.dataset.inspect!);
  for (const b of el.querySelectorAll<HTMLElement>('[data-replay]'))
    b.onclick = () => replay([b.dataset.replay!], b.dataset.lane as Lane);
  const all = document.getElementById('replay-all');
  if (all)
    all.onclick = () => {
      if (confirm('Replay all ' + d.deadLetterCount + ' dead letters of ' + d.key + '?'))
        replay(undefined, '');
    };
  const allBackfill = document.getElementById('replay-all-backfill');
  if (allBackfill)
    allBackfill.onclick = () => {
      if (
        confirm(
          'Move all ' +
            d.backfillDeadLetterCount +
            ' backfill dead letters of ' +
            d.key +
            ' into its live queue?',
        )
      )
        replay(undefined, 'backfill');
    };
}

function deadLetterTable(list: DeadLetterRow[], lane: Lane) {
  return (
    '<table><thead><tr><th>event id</th><th>type</th><th class="num">attempts</th><th>last status</th><th>failed</th><th>reason</th><th></th></tr></thead><tbody>' +
    list
      .map(
        (e) =>
          '<tr data-job-id="' +
          esc(e.jobId) +
          '"><td><code>' +
          esc(e.event.id) +
          '</code></td><td>' +
          esc(e.event.type) +
          '</td><td class="num">' +
          esc(e.attempts) +
          '</td><td>' +
          esc(e.lastAttempt?.status ?? '–') +
          '</td><td>' +
          esc(ago(e.failedAt)) +
          '</td><td class="truncate" title="' +
          esc(e.reason) +
          '">' +
          esc(e.reason) +
          '</td><td>' +
          '<button class="act" data-inspect="' +
          esc(e.jobId) +
          '">Inspect</button> <button class="act" data-lane="' +
          lane +
          '" data-replay="' +
          esc(e.jobId) +
          '">Replay</button></td></tr>',
      )
      .join('') +
    '</tbody></table>'
  );
}

function inspect(jobId: string) {
  const e = entries.get(jobId);
  if (!e) return;
  byId('inspect-title').textContent = e.event.id;
  byId('inspect-body').textContent = JSON.stringify(e, null, 2);
  byId<HTMLDialogElement>('inspect').showModal();
}

async function replay(jobIds: string[] | undefined, lane: Lane) {
  try {
    const r = await api<ReplayResponse>('dlq/' + selected + (lane ? '/' + lane : '') + '/replay', {
      method: 'POST',
      body: JSON.stringify(jobIds ? { jobIds } : {}),
    });
    toast('Replayed ' + r.replayed + ' event' + (r.replayed === 1 ? '' : 's') + ' of ' + selected);
  } catch (e) {
    toast('Replay failed: ' + (e as Error).message);
  }
  refresh();
}

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const { triggers } = await api<TriggersResponse>('triggers');
    renderTriggers(triggers);
    if (selected && triggers.some((t) => t.key === selected && t.state === 'running'))
      renderDetails(await api<TriggerDetail>('triggers/' + selected + '?limit=50'));
    else byId('details').hidden = true;
    byId('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) {
    byId('updated').textContent = 'update failed: ' + (e as Error).message;
  } finally {
    busy = false;
  }
}

refresh();
setInterval(refresh, 2000);
