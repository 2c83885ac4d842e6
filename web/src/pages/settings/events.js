// pages/settings/events.js - the webhook events the engine received (GET /api/webhooks/events:
// filter by status and source, page back with `next`) and replay one (POST
// /api/webhooks/events/{id}/replay: its delivery is processed again).
import { api, qs } from '../../api.js';
import { h, mount, errorBox, fmtTime, pill, table } from '../../ui.js';

const STATUSES = ['received', 'queued', 'processed', 'ignored', 'unrouted', 'rejected', 'failed'];

function statusPill(s) {
  return pill(s, s === 'processed' ? 'ok' : s === 'failed' || s === 'rejected' ? 'bad' : s === 'queued' || s === 'received' ? 'info' : 'warn');
}

export function eventsSection() {
  const alertBox = h('div');
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status-line' });
  const listBox = h('div');
  const more = h('div');
  const fStatus = h('select', { id: 'ev-status', 'data-filter': 'status' }, h('option', { value: '' }, 'any'), STATUSES.map((s) => h('option', { value: s }, s)));
  const fSource = h('select', { id: 'ev-source', 'data-filter': 'source' }, h('option', { value: '' }, 'any'), h('option', { value: 'woocommerce' }, 'woocommerce'), h('option', { value: 'quickbooks' }, 'quickbooks'));
  let events = [];

  const form = h(
    'form',
    {
      class: 'row filters',
      role: 'search',
      'aria-label': 'Filter webhook events',
      onsubmit: (e) => {
        e.preventDefault();
        load(null);
      },
    },
    h('div', { class: 'filter' }, h('label', { for: 'ev-status' }, 'Status'), fStatus),
    h('div', { class: 'filter' }, h('label', { for: 'ev-source' }, 'Source'), fSource),
    h('button', { type: 'submit', 'data-action': 'filter-events' }, 'Apply filters'),
  );

  async function replay(ev) {
    mount(alertBox);
    try {
      const r = await api('POST', `/api/webhooks/events/${encodeURIComponent(ev.id)}/replay`, {});
      mount(status, h('span', { 'data-replayed': String(ev.id) }, `Event ${ev.id} replayed: ${r.jobs} job${r.jobs === 1 ? '' : 's'} queued (replayed ${r.replayCount} time${r.replayCount === 1 ? '' : 's'} so far).`));
      await load(null);
    } catch (err) {
      mount(alertBox, errorBox(err, `Event ${ev.id} was not replayed`));
    }
  }

  function draw() {
    mount(
      listBox,
      table(
        [
          { label: 'Id', cell: (e) => String(e.id) },
          { label: 'Received', cell: (e) => h('span', { title: e.receivedAt || '' }, fmtTime(e.receivedAt)) },
          { label: 'Event', cell: (e) => h('span', {}, h('code', {}, e.topic || e.resource || '?'), ' ', e.resourceId ? `#${e.resourceId}` : '', h('div', { class: 'muted small' }, `${e.source}${e.tenant ? ` · ${e.tenant}` : ''}`)) },
          { label: 'Status', cell: (e) => h('span', { 'data-field': 'status' }, statusPill(e.status), e.error ? h('div', { class: 'small' }, e.error) : null) },
          { label: 'Outcome', cell: (e) => (e.outcome ? h('span', {}, e.outcome, e.target?.id ? h('span', { class: 'muted small' }, ` → ${e.target.entity || ''} ${e.target.id}`) : null) : h('span', { class: 'muted' }, '—')) },
          { label: 'Replays', cell: (e) => h('span', { 'data-field': 'replay-count' }, String(e.replayCount ?? 0)) },
          { label: 'Actions', cell: (e) => h('button', { type: 'button', 'data-action': 'replay', 'aria-label': `Replay event ${e.id}`, onclick: () => replay(e) }, 'Replay') },
        ],
        events,
        { caption: 'Webhook events, newest first', empty: 'No webhook event matches.', rowAttrs: (e) => ({ 'data-event-id': String(e.id) }) },
      ),
    );
  }

  async function load(before) {
    const r = await api('GET', `/api/webhooks/events${qs({ status: fStatus.value, source: fSource.value, limit: 50, before })}`);
    events = before ? events.concat(r.events || []) : r.events || [];
    draw();
    mount(more, r.next ? h('button', { type: 'button', onclick: () => load(r.next).catch((err) => mount(alertBox, errorBox(err))) }, 'Older events') : null);
  }

  const el = h(
    'section',
    { id: 's-events', class: 'card stack', 'aria-labelledby': 's-events-h' },
    h('h2', { id: 's-events-h', tabindex: '-1' }, 'Webhook events'),
    h('p', { class: 'muted' }, 'Deliveries from WooCommerce and QuickBooks. Replaying one processes it again (after a fix, or to resend a record).'),
    form,
    alertBox,
    listBox,
    more,
    status,
  );
  load(null).catch((err) => mount(alertBox, errorBox(err, 'Could not load the webhook events')));
  return { el };
}
