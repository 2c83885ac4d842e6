// pages/connections/woo.js - WooCommerce's webhooks: the last check (from the status route),
// check now (POST .../webhooks/check: which topics deliver to this engine, disabled or missing
// ones with what to do) and register (POST .../webhooks/register: creates or re-activates them
// with the stored webhook_secret and queues a catch-up sweep).
import { api } from '../../api.js';
import { h, mount, errorBox, fmtAgo, pill, table } from '../../ui.js';

function topicPill(s) {
  return pill(s, s === 'active' ? 'ok' : s === 'missing' || s === 'disabled' ? 'bad' : 'warn');
}

export function wooWebhooks({ status: initial, refresh }) {
  const box = h('div', { 'data-pane': 'webhooks' });
  const alertBox = h('div');
  const note = h('div', { role: 'status', 'aria-live': 'polite' });

  function draw(w) {
    if (!w || w.checkedAt == null) {
      mount(box, h('p', { class: 'muted' }, 'Not checked yet.'));
      return;
    }
    mount(
      box,
      h('p', { 'data-webhooks-ok': String(!!w.ok) }, w.ok ? pill('delivering', 'ok') : pill('not delivering', 'bad'), ' ', w.message || '', h('span', { class: 'muted small' }, ` (checked ${fmtAgo(w.checkedAt)})`)),
      w.deliveryUrl ? h('p', { class: 'small' }, 'Delivery URL: ', h('code', {}, w.deliveryUrl)) : null,
      (w.topics || []).length
        ? h('details', { open: !w.ok, class: 'json-block' }, h('summary', {}, `Each topic (${w.topics.length})`), table(
            [
              { label: 'Topic', cell: (t) => h('code', {}, t.topic) },
              { label: 'State', cell: (t) => topicPill(t.status) },
              { label: 'Webhook ids', cell: (t) => (t.ids || []).join(', ') || '—' },
            ],
            w.topics,
            { caption: 'Webhooks per topic', rowAttrs: (t) => ({ 'data-topic': t.topic, 'data-topic-status': t.status }) },
          ))
        : null,
      (w.warnings || []).map((x) => h('p', { class: 'warning small' }, x.message)),
    );
  }

  const run = (what) => async () => {
    mount(alertBox);
    note.textContent = what === 'check' ? 'Asking the store for its webhooks…' : 'Registering the webhooks…';
    for (const b of el.querySelectorAll('button')) b.disabled = true;
    try {
      const r = await api('POST', `/api/integrations/woocommerce/webhooks/${what}`, {});
      if (what === 'check') {
        draw(r);
        note.textContent = r.ok ? 'Every webhook delivers to this engine.' : 'Some webhooks do not deliver: register them.';
      } else {
        draw(r.webhooks);
        const n = (r.registered || []).length;
        mount(note, h('span', { 'data-registered': String(n) }, `${n ? `Registered ${n} webhook${n === 1 ? '' : 's'}` : 'Nothing needed registering'}. ${r.sweep?.message ? `${r.sweep.message[0].toUpperCase()}${r.sweep.message.slice(1)}.` : ''}`));
      }
    } catch (err) {
      note.textContent = '';
      mount(alertBox, errorBox(err, what === 'check' ? 'The webhooks could not be checked' : 'The webhooks were not registered'));
    } finally {
      for (const b of el.querySelectorAll('button')) b.disabled = false;
    }
  };

  const el = h(
    'div',
    { class: 'stack woo-webhooks' },
    h('h3', {}, 'Webhooks'),
    h('p', { class: 'muted small' }, 'WooCommerce tells this engine about new and changed orders, customers and products through webhooks (WEBHOOK_PUBLIC_URL, signed with the webhook_secret saved above). WooCommerce disables a webhook after repeated failed deliveries.'),
    box,
    h(
      'div',
      { class: 'row' },
      h('button', { type: 'button', 'data-action': 'webhooks-check', onclick: run('check') }, 'Check webhooks'),
      h('button', { type: 'button', 'data-action': 'webhooks-register', onclick: run('register') }, 'Register webhooks'),
    ),
    note,
    alertBox,
  );
  draw(initial);
  if (!initial) refresh().then((s) => draw(s.webhooks)).catch(() => {});
  return { el };
}
