// pages/runs/common.js - what the Runs and Overview pages share: a run's progress as text and as
// a bar, its state as a pill, and the field-by-field comparison of two JSON values (a dry run's
// "the target holds now" against "the run would write").
import { h, pill } from '../../ui.js';

export const ACTIVE = new Set(['queued', 'running']);
export const ENTITIES = ['orders', 'customers', 'products', 'refunds'];
export const STATES = ['succeeded', 'partial', 'failed', 'cancelled'];

/** "processed / total" ("12 / ?" while the total is unknown). */
export function progressText(processed, total) {
  const p = Number.isFinite(processed) ? processed : 0;
  return `${p} / ${Number.isFinite(total) ? total : '?'}`;
}

export function progressBar(processed, total, label = 'Progress') {
  const frac = Number.isFinite(total) && total > 0 ? Math.min(1, (processed || 0) / total) : 0;
  const pct = Math.round(frac * 100);
  return h(
    'div',
    { class: 'progress', role: 'progressbar', 'aria-label': label, 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': String(pct) },
    h('span', { style: `width:${pct}%` }),
  );
}

export function stateKind(state) {
  return { succeeded: 'ok', partial: 'warn', failed: 'bad', cancelled: 'warn', running: 'info', queued: 'info' }[state] || 'info';
}

export function statePill(state, attrs = {}) {
  const p = pill(state, stateKind(state));
  for (const [k, v] of Object.entries(attrs)) p.setAttribute(k, v);
  return p;
}

/** A run's processed count: records read (the API's counts.read). */
export function processedOf(run) {
  return run?.counts?.read ?? 0;
}
export function totalOf(run) {
  const t = run?.counts?.total;
  return Number.isFinite(t) ? t : null;
}

const MAX_LEAVES = 2000; // hostile documents: bounded work and DOM

/**
 * flatten(value) -> Map(path -> leaf JSON text) with paths like $.Line[0].Amount; at most
 * MAX_LEAVES leaves (the rest is summarised as one "…" entry).
 */
export function flatten(value, base = '$') {
  const out = new Map();
  if (value === undefined) return out; // no such side (a document the target does not hold)
  const stack = [[base, value]];
  while (stack.length) {
    const [p, v] = stack.pop();
    if (out.size >= MAX_LEAVES) {
      out.set('…', 'more fields not shown');
      break;
    }
    if (v !== null && typeof v === 'object' && Object.keys(v).length > 0) {
      const entries = Array.isArray(v) ? v.map((x, i) => [`${p}[${i}]`, x]) : Object.entries(v).map(([k, x]) => [/^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${p}.${k}` : `${p}[${JSON.stringify(k)}]`, x]);
      for (let i = entries.length - 1; i >= 0; i--) stack.push(entries[i]);
    } else {
      out.set(p, v === undefined ? undefined : JSON.stringify(v));
    }
  }
  return out;
}

/**
 * The differing leaves of two values: [{path, now, next}] (now / next: JSON text or undefined
 * when the side has no such field), in the order of the written document.
 */
export function leafDiff(now, next, base = '$') {
  const a = flatten(now, base);
  const b = flatten(next, base);
  const rows = [];
  for (const [p, v] of b) if (a.get(p) !== v) rows.push({ path: p, now: a.get(p), next: v });
  for (const [p, v] of a) if (!b.has(p)) rows.push({ path: p, now: v, next: undefined });
  return rows;
}

function cell(text, kind, label) {
  if (text === undefined) return h('td', { class: 'muted', 'data-label': label }, '(absent)');
  return h('td', { class: `mono ${kind}`, 'data-label': label }, text);
}

/**
 * Side by side: field | the target holds now | the run would write. differences is the records
 * route's {Field: {from, to}} (top-level fields); each is broken down to its differing leaves.
 */
export function sideBySide(differences, opts = {}) {
  const nowLabel = opts.nowLabel || 'Target holds now';
  const nextLabel = opts.nextLabel || 'This run would write';
  const rows = [];
  for (const [field, d] of Object.entries(differences || {})) {
    for (const r of leafDiff(d?.from, d?.to, field)) rows.push(r);
  }
  const t = h(
    'table',
    { class: 'diff stack-sm', 'data-diff': '' },
    h('caption', { class: opts.captionClass || 'sr-only' }, opts.caption || 'Field differences'),
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, nowLabel), h('th', { scope: 'col' }, nextLabel))),
    h(
      'tbody',
      {},
      rows.length
        ? rows.map((r) => h('tr', { 'data-diff-path': r.path }, h('th', { scope: 'row', class: 'mono' }, r.path), cell(r.now, 'diff-del', nowLabel), cell(r.next, 'diff-add', nextLabel)))
        : h('tr', {}, h('td', { colspan: 3, class: 'muted' }, 'No field differs.')),
    ),
  );
  return h('div', { class: 'table-wrap' }, t);
}
