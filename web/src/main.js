// main.js - the console's shell: session check and login, navigation, the administrator's tenant
// switcher, the theme, and a hash router (#/runs/ID) that mounts one page module at a time.
// Each page (pages/NAME.js) exports { id, title, render(root, params, app) } and may return a
// cleanup function (stop polling) that runs when the reader leaves the page.
import './style.css';
import { api, ApiError, onUnauthorized, setTenant, currentTenant } from './api.js';
import { h, mount, errorBox } from './ui.js';
import overview from './pages/overview.js';
import runs from './pages/runs.js';
import failures from './pages/failures.js';
import connections from './pages/connections.js';
import mappings from './pages/mappings.js';
import settings from './pages/settings.js';

const pages = [overview, runs, failures, connections, mappings, settings];
const TENANT_KEY = 'tallysync.tenant'; // the administrator's pick (not a secret)
const THEME_KEY = 'tallysync.theme';

const app = {
  session: null, // {tenant, admin, expiresAt}
  root: document.getElementById('app'),
  main: null,
  cleanup: null,
  routeSeq: 0, // bumped on every route: a page that finishes loading late knows it is gone
  /** Go to a route: app.go('runs', id) -> #/runs/id */
  go(...parts) {
    location.hash = `#/${parts.map(encodeURIComponent).join('/')}`;
  },
  /** Render the current route again (after a tenant switch). */
  refresh() {
    route();
  },
};

function applyTheme(theme) {
  const t = theme || localStorage.getItem(THEME_KEY) || 'auto';
  document.documentElement.dataset.theme = t;
}

function loginView(reason) {
  app.routeSeq++;
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  const input = h('input', {
    id: 'token',
    name: 'token',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'token-help',
  });
  const msg = h('div', { class: 'login-msg' }, reason ? errorBox(reason, 'Signed out') : null);
  const form = h(
    'form',
    {
      class: 'login card',
      onsubmit: async (e) => {
        e.preventDefault();
        const token = input.value.trim();
        input.value = ''; // the token lives in this field only until it is sent
        try {
          app.session = await api('POST', '/api/session', { token }, { tenant: false, noRedirect: true });
          startApp();
        } catch (err) {
          mount(msg, errorBox(err, 'Could not sign in'));
          input.focus();
        }
      },
    },
    h('h1', {}, 'tallysync'),
    h('label', { for: 'token' }, 'API token'),
    input,
    h(
      'p',
      { id: 'token-help', class: 'muted small' },
      'The administrator token (API_TOKEN in the engine’s .env) or a tenant token from `tallysync token create`. It is exchanged for a session cookie and not kept by this page.',
    ),
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    msg,
  );
  mount(app.root, h('main', { class: 'login-page' }, form));
  input.focus();
}

async function tenantSwitcher() {
  if (!app.session.admin) return h('span', { class: 'tenant', title: 'Your tenant' }, app.session.tenant);
  const sel = h('select', {
    id: 'tenant-switch',
    'aria-label': 'Tenant',
    onchange: () => {
      sessionStorage.setItem(TENANT_KEY, sel.value);
      setTenant(sel.value);
      app.refresh();
    },
  });
  let ids = [];
  try {
    const r = await api('GET', '/api/tenants', undefined, { tenant: false });
    ids = (r.items || []).map((t) => t.id);
  } catch {
    /* the switcher still offers the current one */
  }
  const cur = currentTenant() || 'default';
  if (!ids.includes(cur)) ids.unshift(cur);
  for (const id of ids) sel.appendChild(h('option', { value: id, selected: id === cur }, id));
  return h('label', { class: 'tenant' }, h('span', { class: 'sr-only' }, 'Tenant'), sel);
}

async function startApp() {
  if (app.session.admin) {
    setTenant(sessionStorage.getItem(TENANT_KEY) || 'default');
  } else {
    setTenant(null);
  }
  const nav = h(
    'nav',
    { 'aria-label': 'Main' },
    h(
      'ul',
      {},
      pages.map((p) => h('li', {}, h('a', { href: `#/${p.id}`, 'data-page': p.id }, p.title))),
    ),
  );
  const theme = h(
    'button',
    {
      type: 'button',
      class: 'ghost',
      title: 'Switch between light, dark and the system theme',
      onclick: () => {
        const order = ['auto', 'light', 'dark'];
        const cur = localStorage.getItem(THEME_KEY) || 'auto';
        const next = order[(order.indexOf(cur) + 1) % order.length];
        localStorage.setItem(THEME_KEY, next);
        applyTheme(next);
        theme.textContent = `Theme: ${next}`;
      },
    },
    `Theme: ${localStorage.getItem(THEME_KEY) || 'auto'}`,
  );
  const logout = h(
    'button',
    {
      type: 'button',
      class: 'ghost',
      onclick: async () => {
        try {
          await api('DELETE', '/api/session', undefined, { tenant: false, noRedirect: true });
        } catch {
          /* signed out either way */
        }
        app.session = null;
        sessionStorage.removeItem(TENANT_KEY);
        location.hash = '';
        loginView();
      },
    },
    'Sign out',
  );
  app.main = h('main', { id: 'main', tabindex: '-1' });
  const header = h(
    'header',
    { class: 'top' },
    h('a', { class: 'brand', href: '#/overview' }, 'tallysync'),
    nav,
    h('div', { class: 'who' }, await tenantSwitcher(), app.session.admin ? h('span', { class: 'pill info' }, 'admin') : null, theme, logout),
  );
  mount(app.root, h('a', { class: 'skip', href: '#main' }, 'Skip to content'), header, app.main);
  route();
}

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [id, ...rest] = raw.split('/').map((s) => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  });
  return { id: id || 'overview', params: rest };
}

function route() {
  app.routeSeq++;
  if (!app.session || !app.main) return;
  const { id, params } = parseHash();
  const page = pages.find((p) => p.id === id) || null;
  if (app.cleanup) app.cleanup();
  app.cleanup = null;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.page === id) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!page) {
    mount(app.main, h('h1', {}, 'Not found'), h('p', {}, `There is no page “${id}”.`), h('a', { href: '#/overview' }, 'Go to the overview'));
    return;
  }
  document.title = `${page.title} · tallysync`;
  mount(app.main);
  const seq = ++app.routeSeq;
  try {
    const c = page.render(app.main, params, app);
    if (c && typeof c.then === 'function') {
      c.then((fn) => {
        if (typeof fn !== 'function') return;
        // the reader left (or the tenant changed) before the page was ready: stop it now
        if (seq !== app.routeSeq) fn();
        else app.cleanup = fn;
      }).catch((err) => {
        if (seq === app.routeSeq) mount(app.main, errorBox(err));
      });
    } else if (typeof c === 'function') {
      app.cleanup = c;
    }
  } catch (err) {
    mount(app.main, errorBox(err));
  }
}

onUnauthorized((err) => {
  app.session = null;
  loginView(err instanceof ApiError ? err : null);
});
window.addEventListener('hashchange', route);
applyTheme();

(async () => {
  try {
    app.session = await api('GET', '/api/session', undefined, { tenant: false, noRedirect: true });
    startApp();
  } catch (err) {
    loginView(err.status === 401 ? null : err);
  }
})();
