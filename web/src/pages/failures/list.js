// pages/failures/list.js - #/failures: the tenant's open failures (GET /api/sync/failures), with
// filters (flow, entity, run), a checkbox per row, each row's input on demand (pretty JSON, from
// GET /api/sync/failures/{id}), and retry one / the selection / all that match the filters (POST
// /api/sync/retry). Tab order: the filters, select-all, each row's checkbox then its controls
// (details, input, retry), then the bulk actions. Refreshes every few seconds.
import { api, qs } from '../../api.js';
import { h, mount, errorBox, fmtAgo, fmtTime, poll, pill } from '../../ui.js';
import { retry, firstLine } from './common.js';

const PAGE = 100;

export function renderList(root, app) {
  const filters = { flow: '', entity: '', runId: '' };
  const selected = new Set();
  const inputs = new Map(); // failure id -> its input (or an Error) while its row is expanded
  let items = [];
  let total = 0;

  const field = (name, label, hint) => {
    const input = h('input', {
      id: `f-${name}`,
      name,
      type: 'search',
      autocomplete: 'off',
      spellcheck: 'false',
      'data-filter': name,
      placeholder: hint,
    });
    return { input, el: h('div', { class: 'filter' }, h('label', { for: `f-${name}` }, label), input) };
  };
  const fFlow = field('flow', 'Flow (mapping)', 'any');
  const fEntity = field('entity', 'Entity', 'any');
  const fRun = field('runId', 'Run', 'any');
  const form = h(
    'form',
    {
      class: 'filters row',
      role: 'search',
      'aria-label': 'Filter failures',
      onsubmit: (e) => {
        e.preventDefault();
        filters.flow = fFlow.input.value.trim();
        filters.entity = fEntity.input.value.trim();
        filters.runId = fRun.input.value.trim();
        selected.clear();
        load();
      },
    },
    fFlow.el,
    fEntity.el,
    fRun.el,
    h('button', { type: 'submit', 'data-action': 'filter' }, 'Apply filters'),
  );

  const selectAll = h('input', {
    type: 'checkbox',
    id: 'select-all',
    'data-select-all': '',
    onchange: () => {
      for (const f of items) {
        if (selectAll.checked) selected.add(f.id);
        else selected.delete(f.id);
      }
      draw();
    },
  });
  const status = h('div', { role: 'status', class: 'status-line', 'aria-live': 'polite' });
  const alertBox = h('div');
  const count = h('p', { class: 'muted' });
  const tbody = h('tbody');
  const retrySelected = h(
    'button',
    { type: 'button', 'data-action': 'retry-selected', onclick: () => doRetry({ ids: [...selected] }, 'selected') },
    'Retry selected',
  );
  const retryAll = h(
    'button',
    {
      type: 'button',
      class: 'primary',
      'data-action': 'retry-all',
      onclick: () => {
        const body = {};
        for (const k of ['flow', 'entity', 'runId']) if (filters[k]) body[k] = filters[k];
        doRetry(body, 'all');
      },
    },
    'Retry all',
  );

  async function doRetry(body, what) {
    mount(alertBox);
    try {
      status.textContent = await retry(body);
      if (what === 'selected') selected.clear();
      await load();
    } catch (err) {
      mount(alertBox, errorBox(err, 'The retry was not queued'));
    }
  }

  function row(f) {
    const cb = h('input', {
      type: 'checkbox',
      'data-select': '',
      checked: selected.has(f.id),
      'aria-label': `Select failure ${f.id} (${f.entity || ''} ${f.sourceId || ''})`,
      onchange: () => {
        if (cb.checked) selected.add(f.id);
        else selected.delete(f.id);
        drawBulk();
      },
    });
    const outcome = f.outcome === 'conflict' ? pill('conflict', 'warn') : pill('failed', 'bad');
    return h(
      'tr',
      { 'data-failure-id': String(f.id) },
      h('td', { class: 'sel' }, cb),
      h(
        'td',
        { 'data-label': 'Record' },
        h('div', {}, h('strong', {}, `${f.entity || '?'} ${f.sourceId ?? ''}`), ' ', outcome),
        h('div', { class: 'muted small' }, f.flow || ''),
      ),
      h(
        'td',
        { 'data-label': 'Error' },
        h('div', { class: 'mono small', 'data-field': 'error' }, firstLine(f.error || f.code || '')),
        f.cause ? h('div', { class: 'small', 'data-field': 'cause' }, firstLine(f.cause, 240)) : null,
      ),
      h('td', { class: 'num', 'data-label': 'Attempts', 'data-field': 'attempts' }, String(f.attempts ?? 0)),
      h(
        'td',
        { 'data-label': 'Next retry', 'data-field': 'next-retry' },
        f.nextRetryAt ? h('span', { title: f.nextRetryAt }, fmtAgo(f.nextRetryAt)) : h('span', { class: 'muted' }, f.retryable === false ? 'not retried by itself' : '—'),
      ),
      h('td', { 'data-label': 'Last seen' }, h('span', { title: f.updatedAt || '' }, fmtTime(f.updatedAt))),
      h(
        'td',
        { class: 'actions' },
        h('a', { class: 'button', href: `#/failures/${encodeURIComponent(f.id)}`, 'data-action': 'open' }, 'Details'),
        ' ',
        h(
          'button',
          {
            type: 'button',
            'data-action': 'input',
            'aria-expanded': String(inputs.has(f.id)),
            'aria-controls': `input-${f.id}`,
            'aria-label': `${inputs.has(f.id) ? 'Hide' : 'Show'} the input of failure ${f.id}`,
            onclick: () => toggleInput(f.id),
          },
          'Input',
        ),
        ' ',
        h(
          'button',
          {
            type: 'button',
            'data-action': 'retry',
            'aria-label': `Retry failure ${f.id}`,
            onclick: () => doRetry({ ids: [f.id] }, 'one'),
          },
          'Retry',
        ),
      ),
    );
  }

  /** The row under a failure that shows its record's input (pretty JSON), when expanded. */
  function inputRow(f) {
    if (!inputs.has(f.id)) return null;
    const v = inputs.get(f.id);
    return h(
      'tr',
      { class: 'input-row', id: `input-${f.id}`, 'data-input-for': String(f.id) },
      h(
        'td',
        { colspan: 7 },
        v === undefined
          ? h('p', { class: 'muted' }, 'Loading the input…')
          : v instanceof Error
            ? errorBox(v, 'Could not load the input')
            : v === null
              ? h('p', { class: 'muted' }, 'The record’s input was not kept.')
              : h('pre', { class: 'mono', tabindex: '0', 'aria-label': `The input of failure ${f.id}` }, JSON.stringify(v, null, 2)),
      ),
    );
  }

  async function toggleInput(id) {
    if (inputs.has(id)) {
      inputs.delete(id);
      redraw();
      return;
    }
    inputs.set(id, undefined);
    redraw();
    try {
      const d = await api('GET', `/api/sync/failures/${encodeURIComponent(id)}`);
      if (inputs.has(id)) inputs.set(id, d.input ?? null);
    } catch (err) {
      if (inputs.has(id)) inputs.set(id, err);
    }
    redraw();
  }

  function drawBulk() {
    const n = [...selected].filter((id) => items.some((f) => f.id === id)).length;
    retrySelected.disabled = n === 0;
    retrySelected.textContent = n ? `Retry selected (${n})` : 'Retry selected';
    retryAll.disabled = total === 0;
    retryAll.textContent = total ? `Retry all (${total})` : 'Retry all';
    selectAll.checked = items.length > 0 && items.every((f) => selected.has(f.id));
    selectAll.indeterminate = !selectAll.checked && items.some((f) => selected.has(f.id));
  }

  function draw() {
    count.textContent = total === 0 ? 'No open failures.' : `${total} open failure${total === 1 ? '' : 's'}${total > items.length ? ` (showing the newest ${items.length})` : ''}.`;
    mount(
      tbody,
      items.length === 0 ? h('tr', {}, h('td', { colspan: 7, class: 'muted' }, 'Nothing failed. Every record went through.')) : items.map((f) => [row(f), inputRow(f)]),
    );
    drawBulk();
  }

  let shown = null; // what the table shows, to redraw only when it changed
  async function load() {
    const r = await api('GET', `/api/sync/failures${qs({ ...filters, limit: PAGE })}`);
    items = r?.items || [];
    total = r?.total ?? items.length;
    const ids = new Set(items.map((f) => f.id));
    for (const id of [...selected]) if (!ids.has(id)) selected.delete(id);
    const now = JSON.stringify([total, items]);
    if (now === shown) return drawBulk();
    shown = now;
    for (const id of [...inputs.keys()]) if (!ids.has(id)) inputs.delete(id);
    redraw();
  }

  /** draw(), keeping the reader's place: the focused control of a row gets the focus back. */
  function redraw() {
    const a = document.activeElement;
    const tr = a && tbody.contains(a) ? a.closest('tr[data-failure-id]') : null;
    const key = tr ? [tr.dataset.failureId, a.dataset.action ?? null, 'select' in a.dataset] : null;
    const inRow = a && tbody.contains(a) ? a.closest('tr[data-input-for]')?.dataset.inputFor : null;
    draw();
    if (inRow) tbody.querySelector(`tr[data-input-for="${CSS.escape(inRow)}"] pre`)?.focus();
    if (key) {
      const row2 = tbody.querySelector(`tr[data-failure-id="${CSS.escape(key[0])}"]`);
      const el = row2 && (key[2] ? row2.querySelector('[data-select]') : row2.querySelector(`[data-action="${key[1]}"]`));
      if (el) el.focus();
      else retryAll.focus();
    }
  }

  const tableEl = h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'failures' },
      h('caption', { class: 'sr-only' }, 'Open failures'),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col', class: 'sel' }, h('label', { for: 'select-all', class: 'sr-only' }, 'Select all'), selectAll),
          h('th', { scope: 'col' }, 'Record'),
          h('th', { scope: 'col' }, 'Error and cause'),
          h('th', { scope: 'col', class: 'num' }, 'Attempts'),
          h('th', { scope: 'col' }, 'Next retry'),
          h('th', { scope: 'col' }, 'Last seen'),
          h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Actions')),
        ),
      ),
      tbody,
    ),
  );

  mount(
    root,
    h('h1', {}, 'Failures'),
    h('p', { class: 'muted' }, 'Records that did not reach their target. Retrying queues them in the priority lane; a record that goes through later (a retry, a webhook, another run) leaves this list.'),
    form,
    count,
    alertBox,
    tableEl,
    h('div', { class: 'row bulk' }, retrySelected, retryAll),
    status,
  );
  drawBulk();
  load().catch((err) => mount(alertBox, errorBox(err, 'Could not load the failures')));
  return poll(load, 4000, (err) => mount(alertBox, errorBox(err, 'Could not refresh the failures')));
}
