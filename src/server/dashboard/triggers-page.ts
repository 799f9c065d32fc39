// The triggers page: one self-contained HTML document (no build step, no external assets). It polls the
// dashboard's data routes every two seconds; dead letters are inspected and replayed from the detail panel.

export function triggersPage(signOut: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trigger Hub</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
:root{--fg:#1d2330;--muted:#667085;--line:#e4e7ec;--bg:#f4f5f7;--ok:#067647;--bad:#b42318;--warn:#b54708;--accent:#2f5bea}
*{box-sizing:border-box} body{font:14px/1.45 system-ui,sans-serif;margin:0;background:var(--bg);color:var(--fg)}
header{display:flex;align-items:center;gap:1.5rem;padding:.8rem 1.5rem;background:#101828;color:#fff}
header h1{font-size:1.1rem;margin:0} header a{color:#d0d5dd;text-decoration:none} header a:hover{color:#fff}
header .spacer{flex:1} header button{background:none;border:1px solid #475467;color:#d0d5dd;border-radius:6px;padding:.25rem .7rem;cursor:pointer}
main{padding:1.2rem 1.5rem;max-width:1500px;margin:auto}
.cards{display:flex;gap:1rem;margin-bottom:1rem;flex-wrap:wrap}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:.7rem 1.1rem;min-width:10rem}
.card b{display:block;font-size:1.5rem} .card span{color:var(--muted)}
table{width:100%;border-collapse:collapse;background:#fff;border:1px solid var(--line);border-radius:10px;overflow:hidden}
th,td{text-align:left;padding:.5rem .7rem;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#f9fafb;color:var(--muted);font-weight:600;font-size:.8rem;text-transform:uppercase;letter-spacing:.03em}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr.trigger{cursor:pointer} tr.trigger td:first-child b{white-space:nowrap} tbody tr.trigger:hover{background:#f5f8ff} tr.selected{background:#eef4ff!important}
.pill{display:inline-block;padding:.05rem .5rem;border-radius:99px;font-size:.8rem;font-weight:600}
.running{background:#dcfae6;color:var(--ok)} .failed,.invalid{background:#fee4e2;color:var(--bad)}
.disconnected{background:#fef0c7;color:var(--warn)}
.bad{color:var(--bad)} .muted{color:var(--muted)} code{font-size:.85em}
section{margin-top:1.5rem} h2{font-size:1.05rem;margin:.2rem 0 .6rem} h3{font-size:.95rem;margin:1rem 0 .4rem}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:1rem} ul.errors{margin:0;padding-left:1.1rem}
button.act{border:1px solid #c6cad3;background:#fff;border-radius:6px;padding:.2rem .6rem;cursor:pointer;font:inherit}
button.act:hover{border-color:var(--accent);color:var(--accent)} button.primary{background:var(--accent);color:#fff;border-color:var(--accent)}
dialog{max-width:min(900px,92vw);border:1px solid var(--line);border-radius:10px} dialog pre{max-height:70vh;overflow:auto;background:#f9fafb;padding:.8rem}
#toast{position:fixed;right:1.5rem;bottom:1.5rem;background:#101828;color:#fff;padding:.6rem 1rem;border-radius:8px;display:none}
.truncate{max-width:28rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
</style></head><body>
<header><h1>Trigger Hub</h1><a href="/dashboard">Triggers</a><a href="/dashboard/queues">Queues</a>
<span class="spacer"></span><span id="updated" class="muted"></span>
${signOut ? '<form method="post" action="/dashboard/logout"><button>Sign out</button></form>' : ''}</header>
<main>
<div class="cards" id="cards"></div>
<table><thead><tr><th>Trigger</th><th>Source</th><th>Target</th><th>State</th><th class="num">qps</th>
<th class="num">Failure rate</th><th class="num">Queue depth</th><th class="num" title="Age of the oldest event not yet delivered, from its source time">Oldest waiting</th><th class="num" title="Source time to the function's answer, p99 of the last 1,000 deliveries">Age at delivery p99</th><th class="num">Dead letters</th><th class="num">Delivered</th><th>Recent error</th></tr></thead>
<tbody id="triggers"><tr><td colspan="12" class="muted">loading…</td></tr></tbody></table>
<section id="details" hidden></section>
</main>
<dialog id="inspect"><h2 id="inspect-title"></h2><pre id="inspect-body"></pre><form method="dialog"><button class="act">Close</button></form></dialog>
<div id="toast" role="status"></div>
<script>
const headers = { 'x-trigger-hub': '1', 'content-type': 'application/json' };
let selected = new URLSearchParams(location.hash.slice(1)).get('trigger');
let entries = new Map();
const esc = (v) => String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
const pct = (r) => (r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0) + '%';
const dur = (seconds) => seconds === undefined || seconds === null ? '–' : seconds < 1 ? Math.round(seconds * 1000) + ' ms' : seconds < 90 ? seconds.toFixed(seconds < 10 ? 1 : 0) + ' s' : seconds < 5400 ? Math.round(seconds / 60) + ' min' : (seconds / 3600).toFixed(1) + ' h';
const ago = (iso) => { if (!iso) return '–'; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : new Date(iso).toLocaleString(); };
async function api(path, init) {
  const res = await fetch('/dashboard/api/' + path, { ...init, headers, credentials: 'same-origin' });
  if (res.status === 401) { location.href = '/dashboard/login'; throw new Error('signed out'); }
  const body = await res.json();
  if (!res.ok) throw new Error(body.message || res.statusText);
  return body;
}
function toast(text) { const t = document.getElementById('toast'); t.textContent = text; t.style.display = 'block'; clearTimeout(toast.timer); toast.timer = setTimeout(() => (t.style.display = 'none'), 4000); }
function state(t) {
  if (t.state !== 'running') return '<span class="pill ' + esc(t.state) + '">' + esc(t.state) + '</span>';
  if (t.health && !t.health.connected) return '<span class="pill disconnected" title="' + esc(t.health.message) + '">disconnected</span>';
  return '<span class="pill running">running</span>';
}
function renderTriggers(list) {
  const sum = (f) => list.reduce((n, t) => n + (f(t) || 0), 0);
  document.getElementById('cards').innerHTML = [
    [list.filter((t) => t.state === 'running').length + ' / ' + list.length, 'triggers running'],
    [sum((t) => t.stats.qps).toFixed(2), 'deliveries / s'],
    [sum((t) => t.depth), 'events queued'],
    [sum((t) => t.deadLetters), 'dead letters'],
    [sum((t) => t.stats.totals.delivered), 'delivered since start'],
  ].map(([v, l]) => '<div class="card"><b>' + esc(v) + '</b><span>' + esc(l) + '</span></div>').join('');
  document.getElementById('triggers').innerHTML = list.length === 0
    ? '<tr><td colspan="12" class="muted">No triggers. Add Trigger YAML to the triggers directory (or Trigger resources in the cluster).</td></tr>'
    : list.map((t) => {
      const err = t.error || t.stats.recentErrors[0]?.message || '';
      return '<tr class="trigger' + (t.key === selected ? ' selected' : '') + '" data-trigger="' + esc(t.key) + '">' +
        '<td><b>' + esc(t.key) + '</b><div class="muted"><code>' + esc(t.origin) + '</code></div></td>' +
        '<td>' + esc(t.source ?? '–') + '</td><td class="truncate" title="' + esc(t.target) + '">' + esc(t.target ?? '–') + '</td>' +
        '<td>' + state(t) + '</td><td class="num">' + t.stats.qps.toFixed(2) + '</td>' +
        '<td class="num' + (t.stats.failureRate > 0 ? ' bad' : '') + '">' + pct(t.stats.failureRate) + '</td>' +
        '<td class="num">' + esc(t.depth ?? '–') + '</td>' +
        '<td class="num" data-oldest-age>' + esc(dur(t.oldestEventAgeSeconds)) + '</td>' +
        '<td class="num" data-age-p99>' + esc(dur(t.stats.eventAge?.p99Seconds)) + '</td>' +
        '<td class="num' + (t.deadLetters > 0 ? ' bad' : '') + '" data-dead-letters>' + esc(t.deadLetters ?? '–') + '</td>' +
        '<td class="num" data-delivered>' + esc(t.stats.totals.delivered) + '</td>' +
        '<td class="truncate bad" title="' + esc(err) + '">' + esc(err) + '</td></tr>';
    }).join('');
  for (const row of document.querySelectorAll('tr.trigger'))
    row.onclick = () => { selected = row.dataset.trigger; location.hash = 'trigger=' + encodeURIComponent(selected); refresh(); };
}
function renderDetails(d) {
  const el = document.getElementById('details');
  entries = new Map([...d.deadLetterEntries, ...d.backfillDeadLetterEntries].map((e) => [e.jobId, e]));
  const s = d.stats;
  el.hidden = false;
  el.innerHTML = '<h2>' + esc(d.key) + ' ' + state(d) + '</h2>' +
    '<div class="cards">' + [
      [s.qps.toFixed(2), 'deliveries / s (10 s)'], [pct(s.failureRate), 'failed attempts (1 min)'],
      [s.lastMinute.received, 'received (1 min)'], [d.depth ?? 0, 'queued'],
      [dur(d.oldestEventAgeSeconds), 'oldest waiting event'],
      [s.eventAge ? dur(s.eventAge.p50Seconds) + ' / ' + dur(s.eventAge.p99Seconds) : '–', 'event age at delivery p50 / p99 (last ' + (s.eventAge?.deliveries ?? 0) + ')'],
      [d.deadLetterCount, 'dead letters'],
      [s.totals.replayed, 'replayed'], [ago(s.lastEventAt || d.health?.lastEventAt), 'last event'],
    ].map(([v, l]) => '<div class="card"><b>' + esc(v) + '</b><span>' + esc(l) + '</span></div>').join('') + '</div>' +
    (d.health?.message ? '<p class="muted">source: ' + esc(d.health.message) + '</p>' : '') +
    '<div class="grid"><div><h3>Last delivered events</h3>' +
    (d.recentEvents.length === 0 ? '<p class="muted">none in the last hour</p>' :
      '<table><thead><tr><th>id</th><th>type</th><th>delivered</th></tr></thead><tbody>' +
      d.recentEvents.map((e) => '<tr data-event-id="' + esc(e.id) + '"><td><code>' + esc(e.id) + '</code></td><td>' + esc(e.type) + '</td><td>' + esc(ago(e.deliveredAt)) + '</td></tr>').join('') +
      '</tbody></table>') +
    '</div><div><h3>Recent errors</h3>' +
    (s.recentErrors.length === 0 ? '<p class="muted">none since the hub started</p>' :
      '<ul class="errors">' + s.recentErrors.map((e) => '<li><span class="muted">' + esc(ago(e.at)) + ' · ' + esc(e.kind) + '</span> ' + esc(e.message) + '</li>').join('') + '</ul>') +
    '</div></div>' +
    '<h3>Dead letters (' + esc(d.deadLetterCount) + ') ' +
    (d.deadLetterCount > 0 ? '<button class="act primary" id="replay-all">Replay all</button>' : '') + '</h3>' +
    (d.deadLetterEntries.length === 0 ? '<p class="muted">The dead-letter queue is empty.</p>' : deadLetterTable(d.deadLetterEntries, '')) +
    // What backfills dead-lettered: shown only when there is some; a replay moves it into the live queue.
    (d.backfillDeadLetterCount === 0 ? '' :
      '<h3>Backfill dead letters (' + esc(d.backfillDeadLetterCount) + ') <button class="act primary" id="replay-all-backfill">Replay all into the live queue</button></h3>' +
      deadLetterTable(d.backfillDeadLetterEntries, 'backfill'));
  for (const b of el.querySelectorAll('[data-inspect]')) b.onclick = () => inspect(b.dataset.inspect);
  for (const b of el.querySelectorAll('[data-replay]')) b.onclick = () => replay([b.dataset.replay], b.dataset.lane);
  const all = document.getElementById('replay-all'); if (all) all.onclick = () => { if (confirm('Replay all ' + d.deadLetterCount + ' dead letters of ' + d.key + '?')) replay(undefined, ''); };
  const allBackfill = document.getElementById('replay-all-backfill'); if (allBackfill) allBackfill.onclick = () => { if (confirm('Move all ' + d.backfillDeadLetterCount + ' backfill dead letters of ' + d.key + ' into its live queue?')) replay(undefined, 'backfill'); };
}
function deadLetterTable(list, lane) {
  return '<table><thead><tr><th>event id</th><th>type</th><th class="num">attempts</th><th>last status</th><th>failed</th><th>reason</th><th></th></tr></thead><tbody>' +
    list.map((e) => '<tr data-job-id="' + esc(e.jobId) + '"><td><code>' + esc(e.event.id) + '</code></td><td>' + esc(e.event.type) +
      '</td><td class="num">' + esc(e.attempts) + '</td><td>' + esc(e.lastAttempt?.status ?? '–') + '</td><td>' + esc(ago(e.failedAt)) +
      '</td><td class="truncate" title="' + esc(e.reason) + '">' + esc(e.reason) + '</td><td>' +
      '<button class="act" data-inspect="' + esc(e.jobId) + '">Inspect</button> <button class="act" data-lane="' + lane + '" data-replay="' + esc(e.jobId) + '">Replay</button></td></tr>').join('') +
    '</tbody></table>';
}
function inspect(jobId) {
  const e = entries.get(jobId); if (!e) return;
  document.getElementById('inspect-title').textContent = e.event.id;
  document.getElementById('inspect-body').textContent = JSON.stringify(e, null, 2);
  document.getElementById('inspect').showModal();
}
async function replay(jobIds, lane) {
  try {
    const r = await api('dlq/' + selected + (lane ? '/' + lane : '') + '/replay', { method: 'POST', body: JSON.stringify(jobIds ? { jobIds } : {}) });
    toast('Replayed ' + r.replayed + ' event' + (r.replayed === 1 ? '' : 's') + ' of ' + selected);
  } catch (e) { toast('Replay failed: ' + e.message); }
  refresh();
}
let busy = false;
async function refresh() {
  if (busy) return; busy = true;
  try {
    const { triggers } = await api('triggers');
    renderTriggers(triggers);
    if (selected && triggers.some((t) => t.key === selected && t.state === 'running')) renderDetails(await api('triggers/' + selected + '?limit=50'));
    else document.getElementById('details').hidden = true;
    document.getElementById('updated').textContent = 'updated ' + new Date().toLocaleTimeString();
  } catch (e) { document.getElementById('updated').textContent = 'update failed: ' + e.message; }
  finally { busy = false; }
}
refresh(); setInterval(refresh, 2000);
</script></body></html>`;
}
