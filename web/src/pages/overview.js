// pages/overview.js - the Overview page: is everything flowing? Each connection's health (token
// and refresh-token expiry, webhook warnings, last error), the runs in progress with live
// progress, the queue and its priority lane, open failures, records synced per hour over the
// last 7 days (uPlot, with a table for screen readers) and the last reconciliation per flow.
// Data: GET /api/overview (polled) and GET /api/sync/stats/hourly?days=7 (on open).
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api } from '../api.js';
import { h, mount, errorBox, fmtMoney, fmtTime, fmtAgo, pill, table, poll } from '../ui.js';
import { progressText, progressBar } from './runs/common.js';

const POLL_MS = 2000;
const PLATFORM_NAMES = { woocommerce: 'WooCommerce', quickbooks: 'QuickBooks Online', supabase: 'Supabase' };

/** Expiry as a pill: expired / soon (< 1 day) / fine. */
function expiry(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  const left = new Date(iso).getTime() - Date.now();
  const kind = Number.isNaN(left) ? 'info' : left <= 0 ? 'bad' : left < 86400000 ? 'warn' : 'ok';
  const word = Number.isNaN(left) ? iso : left <= 0 ? `expired ${fmtAgo(iso)}` : `expires ${fmtAgo(iso)}`;
  return h('span', { title: iso }, pill(word, kind));
}

const STATUS = {
  connected: ['connected', 'ok'],
  untested: ['not tested yet', 'info'],
  error: ['connection failing', 'bad'],
  expired: ['expired: reconnect', 'bad'],
};
const WEBHOOK = { ok: 'ok', failing: 'bad', unchecked: 'info' };

const SHOWN_WARNINGS = 2; // more fold into "N more" (a store with no webhooks has seven)

function warningList(items, label) {
  if (!items.length) return null;
  const li = (w) =>
    h('li', { 'data-warning': typeof w === 'object' && w ? w.code || '' : '' }, pill('warning', 'warn'), ' ', typeof w === 'string' ? w : w.message || w.code || '');
  const list = h('ul', { class: 'warnings', 'aria-label': label }, items.slice(0, SHOWN_WARNINGS).map(li));
  if (items.length <= SHOWN_WARNINGS) return list;
  return h(
    'div',
    {},
    list,
    h('details', {}, h('summary', {}, `${items.length - SHOWN_WARNINGS} more`), h('ul', { class: 'warnings' }, items.slice(SHOWN_WARNINGS).map(li))),
  );
}

function connectionCard(c) {
  const name = PLATFORM_NAMES[c.platform] || c.platform;
  const wh = c.webhook;
  const whWarnings = wh && Array.isArray(wh.warnings) ? wh.warnings : [];
  const [word, kind] = STATUS[c.status] || (c.connected ? STATUS.connected : [c.status || 'not connected', 'bad']);
  const err = c.lastError;
  return h(
    'section',
    { class: 'card stack', 'data-connection': c.platform, 'aria-label': name },
    h('div', { class: 'row' }, h('h2', { style: 'margin:0' }, name), pill(word, kind)),
    c.account ? h('p', { class: 'muted small' }, `Account: ${c.account}`) : null,
    h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Access token'),
      h('dd', {}, expiry(c.tokenExpiresAt)),
      h('dt', {}, 'Refresh token'),
      h('dd', {}, expiry(c.refreshTokenExpiresAt)),
      c.lastTestAt ? h('dt', {}, 'Last tested') : null,
      c.lastTestAt ? h('dd', { title: c.lastTestAt }, fmtAgo(c.lastTestAt)) : null,
      wh ? h('dt', {}, 'Webhooks') : null,
      wh ? h('dd', {}, pill(wh.status || 'unknown', WEBHOOK[wh.status] || 'info'), wh.checkedAt ? h('span', { class: 'muted small' }, ` checked ${fmtAgo(wh.checkedAt)}`) : null) : null,
    ),
    warningList(Array.isArray(c.warnings) ? c.warnings : [], `${name} warnings`),
    wh && wh.message && wh.status !== 'ok' ? h('p', { class: 'small' }, wh.message) : null,
    warningList(whWarnings, `${name} webhook warnings`),
    err
      ? h(
          'div',
          { class: 'error' },
          h('strong', {}, 'Last error'),
          h('p', {}, typeof err === 'string' ? err : err.message || ''),
          err.at ? h('p', { class: 'muted small' }, fmtTime(err.at)) : null,
        )
      : null,
    h('a', { href: '#/connections' }, `Manage ${name}`),
  );
}

function runningList(running) {
  if (!running.length) return h('p', { class: 'muted' }, 'No run in progress.');
  return h(
    'ul',
    { class: 'plain stack' },
    running.map((r) =>
      h(
        'li',
        { 'data-run-id': r.syncId },
        h(
          'div',
          { class: 'row' },
          h('a', { href: `#/runs/${encodeURIComponent(r.syncId)}` }, `${r.entity} · ${r.flow}`),
          pill(r.mode, 'info'),
          r.dryRun ? pill('dry run', 'warn') : null,
          r.state === 'queued' ? pill('queued', 'info') : null,
          r.cancelRequested ? pill('stopping', 'warn') : null,
          h('span', { class: 'mono', 'data-run-progress': '' }, progressText(r.processed, r.total)),
        ),
        progressBar(r.processed, r.total),
        h('p', { class: 'muted small' }, r.startedAt ? `started ${fmtAgo(r.startedAt)}` : `queued ${fmtAgo(r.createdAt)}`),
      ),
    ),
  );
}

function reconciliationTable(rows) {
  return table(
    [
      { label: 'Flow', cell: (r) => r.flow },
      { label: 'Run', cell: (r) => h('a', { href: `#/runs/${encodeURIComponent(r.syncId)}` }, fmtTime(r.finishedAt)) },
      { label: 'Source total', class: 'num', cell: (r) => fmtMoney(r.sourceTotalMinor, r.currency) },
      { label: 'Target total', class: 'num', cell: (r) => fmtMoney(r.targetTotalMinor, r.currency) },
      {
        label: 'Difference',
        class: 'num',
        cell: (r) => {
          const d = r.differenceMinor ?? (r.targetTotalMinor ?? 0) - (r.sourceTotalMinor ?? 0);
          return d === 0 ? pill(fmtMoney(0, r.currency), 'ok') : pill(fmtMoney(d, r.currency), 'bad');
        },
      },
    ],
    rows,
    { caption: 'Last reconciliation per flow', empty: 'No finished run to reconcile yet.' },
  );
}

/** The hourly chart: uPlot (stacked look by drawing the series as lines) + a table fallback. */
function hourlyChart(box, stats) {
  const hours = stats.hours || [];
  const synced = (x) => (x.created || 0) + (x.updated || 0);
  const total = hours.reduce((n, x) => n + synced(x), 0);
  const failed = hours.reduce((n, x) => n + (x.failed || 0), 0);
  const summary = h(
    'p',
    { class: 'muted small', 'data-hourly-total': String(total) },
    `${total} records written (created or updated) and ${failed} failed over the last ${Math.round(hours.length / 24) || 0} days.`,
  );
  const plotBox = h('div', { class: 'chart', 'aria-hidden': 'true' });
  // the screen-reader fallback: only hours with activity (a week is 168 rows otherwise)
  const active = hours.filter((x) => synced(x) || x.failed || x.unchanged);
  const fallback = h(
    'details',
    { class: 'chart-table' },
    h('summary', {}, 'Show as a table'),
    table(
      [
        { label: 'Hour (UTC)', cell: (x) => x.hour.replace('T', ' ').replace(/:00(\.000)?Z$/, '') },
        { label: 'Created', class: 'num', cell: (x) => x.created || 0 },
        { label: 'Updated', class: 'num', cell: (x) => x.updated || 0 },
        { label: 'Unchanged', class: 'num', cell: (x) => x.unchanged || 0 },
        { label: 'Failed', class: 'num', cell: (x) => x.failed || 0 },
      ],
      active,
      { caption: 'Records per hour (hours with activity)', empty: 'Nothing synced in this period.' },
    ),
  );
  mount(box, summary, plotBox, fallback);
  if (!hours.length) return () => {};
  const xs = hours.map((x) => Math.floor(new Date(x.hour).getTime() / 1000));
  const css = getComputedStyle(document.documentElement);
  const col = (v, d) => css.getPropertyValue(v).trim() || d;
  const data = [xs, hours.map((x) => x.created || 0), hours.map((x) => x.updated || 0), hours.map((x) => x.failed || 0)];
  const width = () => Math.max(200, plotBox.clientWidth || box.clientWidth || 300);
  // an hour is a bar (most hours are empty: a line would draw spikes between them)
  const bars = (label, color) => ({
    label,
    stroke: color,
    fill: /^#[0-9a-f]{6}$/i.test(color) ? `${color}b0` : color,
    width: 1,
    paths: uPlot.paths.bars({ size: [0.9, 12] }),
    points: { show: false },
  });
  const axis = { stroke: col('--muted', '#666'), grid: { stroke: col('--line', '#ddd'), width: 1 }, ticks: { stroke: col('--line', '#ddd') } };
  const plot = new uPlot(
    {
      width: width(),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      axes: [axis, { ...axis, size: 44 }],
      scales: { x: { time: true, range: (u, min, max) => [min - 1800, max + 1800] } },
      series: [
        {},
        bars('Created', col('--ok', '#1b7a3a')),
        bars('Updated', col('--info', '#2a5db0')),
        bars('Failed', col('--bad', '#b3261e')),
      ],
    },
    data,
    plotBox,
  );
  const ro = new ResizeObserver(() => plot.setSize({ width: width(), height: 220 }));
  ro.observe(box);
  return () => {
    ro.disconnect();
    plot.destroy();
  };
}

export default {
  id: 'overview',
  title: 'Overview',
  render(root) {
    const status = h('p', { class: 'muted small', role: 'status' }, 'Loading…');
    const conns = h('div', { class: 'grid' });
    const running = h('div', {});
    const queue = h('div', {});
    const failures = h('div', {});
    const recon = h('div', {});
    const chart = h('div', { class: 'card' }, h('p', { class: 'muted' }, 'Loading the chart…'));
    const err = h('div', {});
    mount(
      root,
      h('h1', {}, 'Overview'),
      err,
      h(
        'div',
        { class: 'grid' },
        h('section', { class: 'card', 'aria-labelledby': 'ov-running' }, h('h2', { id: 'ov-running', style: 'margin-top:0' }, 'Running now'), running),
        h('section', { class: 'card', 'aria-labelledby': 'ov-queue' }, h('h2', { id: 'ov-queue', style: 'margin-top:0' }, 'Queue'), queue),
        h('section', { class: 'card', 'aria-labelledby': 'ov-failures' }, h('h2', { id: 'ov-failures', style: 'margin-top:0' }, 'Failures'), failures),
      ),
      h('h2', {}, 'Records synced per hour, last 7 days'),
      chart,
      h('h2', {}, 'Connections'),
      conns,
      h('h2', {}, 'Reconciliation'),
      recon,
      status,
    );

    // each part is rebuilt only when its data changed (keeps focus and the reader's place)
    const last = new Map();
    const update = (box, data, build) => {
      const key = JSON.stringify(data ?? null);
      if (last.get(box) === key) return;
      last.set(box, key);
      build();
    };
    const load = async () => {
      const o = await api('GET', '/api/overview');
      if (err.firstChild) mount(err);
      update(conns, o.connections, () =>
        mount(conns, (o.connections || []).length ? o.connections.map(connectionCard) : h('p', { class: 'muted' }, 'No connection configured yet. ', h('a', { href: '#/connections' }, 'Connect a shop and QuickBooks'))),
      );
      update(running, o.running, () => mount(running, runningList(o.running || [])));
      const q = o.queue || {};
      update(queue, q, () => mount(
        queue,
        h('p', { class: 'big', 'data-queue-depth': String(q.depth ?? 0) }, String(q.depth ?? 0)),
        h('p', { class: 'muted' }, `jobs waiting: ${q.priority ?? 0} in the priority lane (webhooks, retries), ${q.bulk ?? 0} bulk${q.running ? `; ${q.running} running` : ''}`),
      ));
      const open = o.failures?.open ?? 0;
      update(failures, open, () => mount(
        failures,
        h('p', { class: 'big', 'data-failures-open': String(open) }, String(open)),
        h('p', {}, open ? h('a', { href: '#/failures' }, `See the ${open} open failure${open === 1 ? '' : 's'}`) : h('span', { class: 'muted' }, 'Nothing is failing.')),
      ));
      update(recon, o.reconciliation, () => mount(recon, reconciliationTable(o.reconciliation || [])));
      status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    };
    const onError = (e) => mount(err, errorBox(e, 'Could not load the overview'));

    let destroyChart = () => {};
    let gone = false;
    let stats = null;
    const draw = () => {
      destroyChart();
      destroyChart = hourlyChart(chart, stats);
    };
    api('GET', '/api/sync/stats/hourly?days=7')
      .then((s) => {
        stats = s;
        if (!gone) draw();
      })
      .catch((e) => !gone && mount(chart, errorBox(e, 'Could not load the hourly counts')));
    // the chart's colours come from the theme: draw it again when the reader switches
    const themeWatch = new MutationObserver(() => stats && !gone && draw());
    themeWatch.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
    load().catch(onError);
    const stop = poll(load, POLL_MS, onError);
    return () => {
      gone = true;
      stop();
      themeWatch.disconnect();
      destroyChart();
    };
  },
};
