// pages/connections.js - the Connections page (#/connections): one section per connector
// (GET /api/integrations): its health, its credentials form built from the connector's declared
// fields (GET /api/integrations/{platform}/fields), store / replace / delete, test the
// connection, QuickBooks' OAuth connect flow and WooCommerce's webhook check and register.
// Secrets are write-only: a saved secret is never shown back, in any form.
import { api } from '../api.js';
import { h, mount, errorBox } from '../ui.js';
import { platformSection } from './connections/platform.js';

export default {
  id: 'connections',
  title: 'Connections',
  render(root, params, app) {
    let alive = true;
    const cleanups = [];
    const alertBox = h('div');
    const list = h('div', { class: 'stack' });
    mount(
      root,
      h('h1', {}, 'Connections'),
      h('p', { class: 'muted' }, 'The systems this tenant syncs between. Credentials are sealed in the engine’s vault: secrets can be replaced or deleted here, never read back.'),
      alertBox,
      list,
    );
    (async () => {
      let r;
      try {
        r = await api('GET', '/api/integrations');
      } catch (err) {
        if (alive) mount(alertBox, errorBox(err, 'Could not load the connections'));
        return;
      }
      if (!alive) return;
      // the shop's two systems first, then the others by name
      const rank = (p) => ['woocommerce', 'quickbooks'].indexOf(p) + 1 || 9;
      const items = (r?.integrations || []).slice().sort((a, b) => rank(a.platform) - rank(b.platform) || a.platform.localeCompare(b.platform));
      if (items.length === 0) mount(list, h('p', { class: 'muted' }, 'No connector is published (scripts/connectors/).'));
      for (const st of items) {
        const s = platformSection(st, app);
        cleanups.push(s.cleanup);
        list.appendChild(s.el);
      }
      if (params[0]) list.querySelector(`section[data-platform="${CSS.escape(params[0])}"]`)?.scrollIntoView();
    })();
    return () => {
      alive = false;
      for (const c of cleanups) c();
    };
  },
};
