// pages/settings.js - the Settings page (#/settings): the tenant's transformer_config as a form
// (defaults shown, checked by the API exactly as mapping runs check it, its 422 shown on the
// field), the sync schedules (list, create, delete) and the webhook events (filter, replay).
// The three sections live in pages/settings/.
import { h, mount } from '../ui.js';
import { configSection } from './settings/config.js';
import { schedulesSection } from './settings/schedules.js';
import { eventsSection } from './settings/events.js';

export default {
  id: 'settings',
  title: 'Settings',
  render(root, params, app) {
    const parts = [configSection(app), schedulesSection(app), eventsSection(app)];
    mount(
      root,
      h('h1', {}, 'Settings'),
      h(
        'nav',
        { class: 'row in-page', 'aria-label': 'Sections' },
        h('a', { href: '#/settings/config', onclick: jump('s-config') }, 'Transformer settings'),
        h('a', { href: '#/settings/schedules', onclick: jump('s-schedules') }, 'Schedules'),
        h('a', { href: '#/settings/events', onclick: jump('s-events') }, 'Webhook events'),
      ),
      parts.map((p) => p.el),
    );
    if (params[0]) root.querySelector(`#s-${CSS.escape(params[0])}`)?.scrollIntoView();
    return () => {
      for (const p of parts) p.cleanup?.();
    };
  },
};

function jump(id) {
  return (e) => {
    e.preventDefault();
    const el = document.getElementById(id);
    if (el) {
      el.scrollIntoView();
      el.querySelector('h2')?.focus();
    }
  };
}
