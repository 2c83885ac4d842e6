// pages/connections/platform.js - one connector's section of the Connections page: status,
// the credentials form (built from GET /api/integrations/{platform}/fields), test, delete, and
// the platform's own actions (QuickBooks connect, WooCommerce webhooks).
import { api } from '../../api.js';
import { h, mount, errorBox, fmtTime, fmtAgo, pill } from '../../ui.js';
import { credentialsForm } from './form.js';
import { qboConnect } from './qbo.js';
import { wooWebhooks } from './woo.js';

const NAMES = { woocommerce: 'WooCommerce', quickbooks: 'QuickBooks Online', supabase: 'Supabase', pos: 'Point of sale (this engine’s store)' };

export function titleOf(platform) {
  return NAMES[platform] || platform;
}

function statusPill(st) {
  if (!st.configured) return pill('not connected', 'warn');
  if (st.status === 'expired') return pill('reconnect needed', 'bad');
  if (st.lastTestOk === false) return pill('test failed', 'bad');
  if (st.lastTestOk === true || st.status === 'connected') return pill('connected', 'ok');
  return pill('saved, not tested', 'info');
}

export function platformSection(initial, app) {
  const platform = initial.platform;
  let st = initial;
  let alive = true;
  const cleanups = [];
  const head = h('div', { class: 'row platform-head' });
  const facts = h('div');
  const alertBox = h('div');
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status-line', 'data-pane': 'status' });
  const formBox = h('div');
  const extra = h('div', { class: 'stack' });
  const el = h(
    'section',
    { class: 'card stack', 'data-platform': platform, 'aria-labelledby': `p-${platform}` },
    head,
    facts,
    alertBox,
    status,
    formBox,
    extra,
  );

  async function refresh() {
    st = await api('GET', `/api/integrations/${encodeURIComponent(platform)}/status`);
    if (alive) drawStatus();
    return st;
  }

  function drawStatus() {
    mount(head, h('h2', { id: `p-${platform}` }, titleOf(platform)), h('span', { 'data-field': 'state' }, statusPill(st)));
    const rows = [];
    const add = (k, v) => rows.push(h('dt', {}, k), h('dd', {}, v));
    if (st.configured) {
      const acct = st.account || (st.fields && (st.fields.realm_id || st.fields.store_url || st.fields.url));
      if (acct && acct !== '********') add('Account', h('span', { 'data-field': 'account' }, acct));
      add('Saved', h('span', { title: st.updatedAt || '' }, fmtTime(st.updatedAt)));
      add(
        'Last test',
        st.lastTestAt
          ? h('span', { 'data-field': 'last-test' }, st.lastTestOk ? pill('passed', 'ok') : pill('failed', 'bad'), ' ', fmtAgo(st.lastTestAt), st.lastTestMessage ? ` — ${st.lastTestMessage}` : '')
          : h('span', { class: 'muted' }, 'not tested yet'),
      );
      if (st.accessTokenExpiresAt) add('Access token expires', h('span', { title: st.accessTokenExpiresAt }, `${fmtTime(st.accessTokenExpiresAt)} (${fmtAgo(st.accessTokenExpiresAt)})`));
      if (st.refreshTokenExpiresAt) add('Refresh token expires', h('span', { title: st.refreshTokenExpiresAt }, `${fmtTime(st.refreshTokenExpiresAt)} (${fmtAgo(st.refreshTokenExpiresAt)})`));
      if (platform === 'quickbooks' && 'realmVerified' in st)
        add('Company proven', st.realmVerified ? 'yes (its webhooks reach this tenant)' : 'not yet: connect, or pass a connection test');
    }
    mount(
      facts,
      rows.length ? h('dl', { class: 'facts' }, rows) : h('p', { class: 'muted' }, 'Nothing stored for this tenant.'),
      (st.warnings || []).map((w) => h('p', { class: 'warning', 'data-warning': w.code }, pill(w.code, 'warn'), ' ', w.message)),
    );
    for (const b of el.querySelectorAll('[data-needs-credentials]')) b.disabled = !st.configured;
  }

  const testBtn = h(
    'button',
    {
      type: 'button',
      'data-action': 'test-connection',
      'data-needs-credentials': '',
      onclick: async () => {
        mount(alertBox);
        testBtn.disabled = true;
        status.textContent = `Testing the ${titleOf(platform)} connection…`;
        try {
          const r = await api('POST', `/api/integrations/${encodeURIComponent(platform)}/test`, {});
          mount(status, r.ok ? pill('connection works', 'ok') : pill('connection failed', 'bad'), ' ', r.message || '');
          status.dataset.testOk = String(!!r.ok);
          await refresh();
        } catch (err) {
          status.textContent = '';
          mount(alertBox, errorBox(err, 'The connection could not be tested'));
        } finally {
          testBtn.disabled = !st.configured;
        }
      },
    },
    'Test connection',
  );
  const delBtn = h(
    'button',
    {
      type: 'button',
      class: 'danger',
      'data-action': 'delete-credentials',
      'data-needs-credentials': '',
      onclick: async () => {
        if (!window.confirm(`Delete the stored ${titleOf(platform)} credentials of this tenant? Syncs that need them stop until they are stored again.`)) return;
        mount(alertBox);
        try {
          await api('DELETE', `/api/integrations/${encodeURIComponent(platform)}/credentials`);
          status.textContent = `The ${titleOf(platform)} credentials were deleted.`;
          await refresh();
          await drawForm();
        } catch (err) {
          mount(alertBox, errorBox(err, 'The credentials were not deleted'));
        }
      },
    },
    'Delete credentials',
  );

  async function drawForm() {
    let spec;
    try {
      spec = await api('GET', `/api/integrations/${encodeURIComponent(platform)}/fields`);
    } catch (err) {
      if (alive) mount(formBox, errorBox(err, 'Could not read the connector’s credential fields'));
      return;
    }
    if (!alive) return;
    if (!spec.fields || spec.fields.length === 0) {
      mount(formBox, h('p', { class: 'muted' }, 'This connector needs no credentials.'));
      testBtn.remove();
      delBtn.remove();
      return;
    }
    const form = credentialsForm(platform, spec, st, {
        onSaved: async (answer) => {
          st = answer;
          drawStatus();
          const notes = (answer.notes || []).map((n) => (typeof n === 'string' ? n : n.message || JSON.stringify(n)));
          mount(status, `${titleOf(platform)} credentials saved. `, notes.length ? h('span', { class: 'warning' }, notes.join(' ')) : 'Test the connection to check them.');
          await drawForm();
        },
    });
    // stored: the form folds away (it replaces everything); the actions stay in view
    mount(
      formBox,
      st.configured
        ? h('details', { class: 'cred-details', 'data-pane': 'replace' }, h('summary', {}, 'Replace the credentials'), form)
        : h('div', {}, h('h3', {}, 'Credentials'), form),
      h('div', { class: 'row' }, testBtn, delBtn),
    );
    drawStatus();
  }

  drawStatus();
  drawForm();
  if (platform === 'quickbooks') {
    const q = qboConnect({ getStatus: () => st, refresh, alertBox, status });
    cleanups.push(q.cleanup);
    extra.appendChild(q.el);
  }
  if (platform === 'woocommerce') {
    extra.appendChild(wooWebhooks({ status: st.webhooks, refresh }).el);
  }
  return {
    el,
    cleanup() {
      alive = false;
      for (const c of cleanups) c();
    },
  };
}
