// ui.js - small DOM helpers. Text always goes in as text nodes (never innerHTML): order data,
// error messages and mapping output are hostile.

/** h('button', {class: 'primary', onclick: fn, disabled: true}, 'Save', child...) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

/** Replace root's content with the given children. */
export function mount(root, ...children) {
  root.replaceChildren();
  append(root, children);
  return root;
}

/** A readable error: the envelope's message, its code, and the field it names. */
export function errorBox(err, title = 'That did not work') {
  const msg = err && err.message ? err.message : String(err);
  const field = err?.details && typeof err.details === 'object' ? err.details.field : null;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('strong', {}, title),
    h('p', {}, msg),
    field ? h('p', { class: 'muted' }, `Field: ${field}`) : null,
    err?.code ? h('p', { class: 'muted small' }, `Code: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}`) : null,
  );
}

/** A short-lived notice at the bottom of the page. */
export function toast(text, kind = 'info') {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const t = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
  box.appendChild(t);
  setTimeout(() => t.remove(), 6000);
}

/** Money from integer minor units, exact: 123456 EUR -> "€1,234.56". */
export function fmtMoney(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  const cur = currency || 'USD';
  let digits = 2;
  try {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency: cur }).resolvedOptions()
      .maximumFractionDigits;
  } catch {
    /* unknown currency code: two digits */
  }
  const neg = minor < 0;
  const abs = BigInt(Math.abs(minor));
  const scale = 10n ** BigInt(digits);
  const whole = (abs / scale).toLocaleString('en');
  const frac = digits > 0 ? `.${(abs % scale).toString().padStart(digits, '0')}` : '';
  return `${neg ? '−' : ''}${whole}${frac} ${cur}`;
}

/** A time as the reader's local date and time; the ISO text in the title. */
export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** "3 min ago" style for recent times. */
export function fmtAgo(iso) {
  if (!iso) return '—';
  const s = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (Number.isNaN(s)) return iso;
  if (s < 0) return `in ${fmtDuration(-s)}`;
  return `${fmtDuration(s)} ago`;
}

export function fmtDuration(s) {
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.round(s / 60)} min`;
  if (s < 86400) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} d`;
}

/**
 * table([{label: 'Run', cell: (row) => ...}, ...], rows, {caption, empty}) -> a <table> in a
 * scrolling wrapper (no page-wide horizontal scroll at phone widths).
 */
export function table(columns, rows, opts = {}) {
  const t = h(
    'table',
    { class: opts.class || '' },
    opts.caption ? h('caption', {}, opts.caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
    h(
      'tbody',
      {},
      rows.length === 0
        ? h('tr', {}, h('td', { colspan: columns.length, class: 'muted' }, opts.empty || 'Nothing yet.'))
        : rows.map((r) => h('tr', opts.rowAttrs ? opts.rowAttrs(r) : {}, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))),
    ),
  );
  return h('div', { class: 'table-wrap' }, t);
}

/** A status pill: ok / warn / bad / info. */
export function pill(text, kind = 'info') {
  return h('span', { class: `pill ${kind}` }, text);
}

/** Poll fn every ms until the returned stop() is called; errors are passed to onError. */
export function poll(fn, ms, onError) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } catch (e) {
      if (onError) onError(e);
    }
    if (!stopped) timer = setTimeout(tick, ms);
  };
  timer = setTimeout(tick, ms);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
