// The dashboard: polls /dashboard/data with the client token and draws it.
// Plain script, no build step; every value from the cluster goes in as text.
'use strict';

const KEY = 'dynwork-token';
const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

/** The token: from the URL fragment once (then removed from the address bar), else this tab's storage. */
function takeToken() {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

let token = takeToken();
let timer = null;
let charts = null;
let windowEnd = Date.now() / 1000;

function showLogin(message) {
  token = null;
  sessionStorage.removeItem(KEY);
  clearTimeout(timer);
  $('board').hidden = true;
  $('forget').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').focus();
}

function showBoard() {
  $('login').hidden = true;
  $('board').hidden = false;
  $('forget').hidden = false;
}

async function api(path) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${token}` }, cache: 'no-store' });
  if (res.status === 401) {
    showLogin('That token was not accepted: use the client token of this cluster (dynwork token).');
    throw new Error('unauthorized');
  }
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new Error(body && body.error ? body.error.message : `HTTP ${res.status}`);
  return body;
}

const ago = (iso, now) => {
  if (!iso) return '–';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
};
const num = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en'));

function row(cells, classes) {
  const tr = document.createElement('tr');
  cells.forEach((c, i) => {
    const td = document.createElement('td');
    td.textContent = c;
    if (classes && classes[i]) td.className = classes[i];
    tr.appendChild(td);
  });
  return tr;
}

function makeCharts() {
  const width = () => Math.max(300, $('chart-jobs').clientWidth || 560);
  const axes = [{}, { size: 60 }];
  // Always the last hour, ending now: a new cluster's few samples sit at the right edge.
  const time = { scales: { x: { time: true, range: () => [windowEnd - 3600, windowEnd] } } };
  const jobs = new uPlot(
    { ...time, width: width(), height: 220, axes, series: [{}, { label: 'queued', stroke: '#d68910', width: 2 }, { label: 'running', stroke: '#2874a6', width: 2 }] },
    [[], [], []],
    $('chart-jobs'),
  );
  const rate = new uPlot(
    {
      ...time,
      width: width(),
      height: 220,
      axes: [{}, { size: 60 }, { side: 1, scale: 'w', grid: { show: false } }],
      series: [{}, { label: 'completed/s', stroke: '#1e8449', width: 2 }, { label: 'workers', stroke: '#7d3c98', width: 2, scale: 'w' }],
    },
    [[], [], []],
    $('chart-rate'),
  );
  window.addEventListener('resize', () => {
    jobs.setSize({ width: width(), height: 220 });
    rate.setSize({ width: width(), height: 220 });
  });
  return { jobs, rate };
}

function render(d) {
  const now = Date.parse(d.generatedAt);
  $('cluster').textContent = `· ${d.cluster}`;
  $('updated').textContent = `updated ${new Date(now).toLocaleTimeString()} by manager ${d.self}`;
  $('stale').textContent = '';
  const up = d.managers.filter((m) => m.queue);
  const sum = (k) => up.reduce((a, m) => a + m.queue[k], 0);
  const last = d.history[d.history.length - 1];
  const active = d.workers.filter((w) => w.state !== 'silent').length;
  $('t-queued').textContent = num(sum('queued'));
  $('t-running').textContent = num(sum('running'));
  $('t-rate').textContent = last ? last.completedPerSec.toFixed(1) : '0.0';
  $('t-workers').textContent = num(active);

  windowEnd = now / 1000;
  charts = charts || makeCharts();
  const h = d.history;
  const x = h.map((s) => s.at / 1000);
  charts.jobs.setData([x, h.map((s) => s.queued), h.map((s) => s.running)]);
  charts.rate.setData([x, h.map((s) => s.completedPerSec), h.map((s) => s.workers)]);
  // For scripts and tests: what the charts hold, without reading the canvas.
  $('chart-jobs').dataset.points = String(h.length);
  $('chart-jobs').dataset.maxQueued = String(Math.max(0, ...h.map((s) => s.queued)));
  $('chart-rate').dataset.maxRate = String(Math.max(0, ...h.map((s) => s.completedPerSec)));

  const mBody = $('managers').tBodies[0];
  mBody.replaceChildren(
    ...d.managers.map((m) =>
      row(
        [
          String(m.index) + (m.index === d.self ? ' (this)' : ''),
          m.url,
          !m.up ? 'not answering' : m.healthy ? 'healthy' : 'unhealthy',
          m.leader ? 'leader' : m.up ? 'follower' : '–',
          num(m.queue && m.queue.queued),
          num(m.queue && m.queue.running),
          num(m.queue && m.queue.completed),
          m.version || '–',
          ago(m.startedAt, now),
        ],
        [null, null, m.up && m.healthy ? 'up' : 'down'],
      ),
    ),
  );
  const wBody = $('workers').tBodies[0];
  wBody.replaceChildren(
    ...d.workers.map((w) =>
      row(
        [
          w.workerId,
          w.instanceId || '–',
          ago(w.firstSeenAt, now),
          num(w.holding || 0),
          num(w.jobsDone || 0),
          w.hashRate ? `${num(Math.round(w.hashRate * (w.threads || 1)))} it/s` : '–',
          `${ago(w.lastSeenAt, now)} ago`,
          w.state,
        ],
        [null, null, null, null, null, null, null, w.state === 'silent' ? 'down' : null],
      ),
    ),
  );
  $('no-workers').textContent = d.workers.length === 0 ? 'No workers: they start when the oldest queued job has waited past the scale-up threshold, and stop when idle.' : '';
  $('events').replaceChildren(
    ...d.events
      .slice()
      .reverse()
      .map((e) => {
        const li = document.createElement('li');
        li.textContent = `${new Date(Date.parse(e.at)).toLocaleTimeString()} · manager ${e.manager} · ${e.message}`;
        return li;
      }),
  );
}

async function poll() {
  if (!token) return;
  try {
    render(await api('/dashboard/data'));
    showBoard();
  } catch (err) {
    if (!token) return;
    $('stale').textContent = `Could not refresh: ${err.message}. Retrying.`;
  }
  timer = setTimeout(poll, POLL_MS);
}

function describe(j) {
  const lines = [`job ${j.id}: ${j.status}${j.manager ? ` (manager ${j.manager})` : ''}`, `  iterations  ${j.iterations}`, `  enqueued    ${j.enqueuedAt}`];
  if (j.lease) lines.push(`  lease       held by worker ${j.lease.workerId} until ${j.lease.expiresAt}`);
  if (j.completedAt) lines.push(`  completed   ${j.completedAt}`);
  if (j.pulledAt) lines.push(`  pulled      ${j.pulledAt}`);
  if (j.error) lines.push(`  error       ${j.error}`);
  lines.push(`  attempts    ${j.attempts}`);
  for (const a of j.history || []) lines.push(`    ${a.attempt}  worker ${a.workerId}  ${a.startedAt} → ${a.endedAt || '…'}  ${a.outcome}`);
  if (j.result) lines.push(`  result      ${j.result}`);
  return lines.join('\n');
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  if (!t) return;
  sessionStorage.setItem(KEY, t);
  token = t;
  $('token').value = '';
  $('login-error').textContent = '';
  poll();
});
$('forget').addEventListener('click', () => showLogin(''));
$('job-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const id = $('job-id').value.trim();
  if (!/^[0-9]{1,16}$/.test(id)) {
    $('job').textContent = 'A job id is a positive integer, as dynwork enqueue printed it.';
    return;
  }
  try {
    $('job').textContent = describe(await api(`/jobs/${id}`));
  } catch (err) {
    $('job').textContent = err.message;
  }
});

if (token) poll();
else showLogin('');
