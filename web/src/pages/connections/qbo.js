// pages/connections/qbo.js - QuickBooks' OAuth 2.0 connect flow from the console: GET
// /api/integrations/quickbooks/connect gives Intuit's authorization URL; it opens in a window of
// its own (no opener: the page keeps the handle, Intuit's page gets no reference back); Intuit
// sends that window to the engine's callback (OAUTH_REDIRECT_URI), which stores the tokens. The
// console watches the window come back to its own origin, reads the callback's answer (an error
// is shown readable), closes it, and shows the connection from the status route.
import { api } from '../../api.js';
import { h, mount, errorBox } from '../../ui.js';

const CALLBACK = '/api/integrations/quickbooks/callback';

export function qboConnect({ getStatus, refresh, alertBox, status }) {
  let timer = null;
  let win = null;
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
  };
  const btn = h(
    'button',
    { type: 'button', class: 'primary', 'data-action': 'qbo-connect', onclick: () => start() },
    'Connect to QuickBooks',
  );
  const linkBox = h('div');
  const el = h(
    'div',
    { class: 'stack qbo-connect' },
    h('h3', {}, 'Connect with Intuit'),
    h('p', { class: 'muted small' }, 'Signs in at Intuit and lets this engine act for the company: the access and refresh tokens go straight into the vault. Needs the app’s client_id and client_secret saved above, and OAUTH_REDIRECT_URI pointing at this engine’s callback.'),
    h('div', { class: 'row' }, btn),
    linkBox,
  );

  function done(ok, what) {
    stop();
    btn.disabled = false;
    mount(linkBox);
    try {
      if (win && !win.closed) win.close();
    } catch {
      /* already gone */
    }
    win = null;
    if (ok) mount(status, h('span', { 'data-qbo-connected': '' }, what));
  }

  async function start() {
    mount(alertBox);
    stop();
    const before = getStatus()?.updatedAt || null;
    let r;
    try {
      r = await api('GET', '/api/integrations/quickbooks/connect');
    } catch (err) {
      mount(alertBox, errorBox(err, 'QuickBooks cannot be connected yet'));
      return;
    }
    btn.disabled = true;
    status.textContent = 'Waiting for Intuit: approve the connection in the window that opened…';
    win = window.open('about:blank', 'tallysync-qbo', 'popup,width=640,height=760');
    if (win) {
      win.opener = null;
      win.location.href = r.authorizationUrl;
    } else {
      mount(
        linkBox,
        h('p', {}, 'The browser blocked the window. ', h('a', { href: r.authorizationUrl, target: '_blank', rel: 'noopener noreferrer' }, 'Open Intuit’s page'), ' and come back here: this page notices the connection.'),
      );
    }
    const deadline = Date.now() + 10 * 60 * 1000; // the state lives 10 minutes
    let busy = false;
    timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        // back on our origin: the callback's answer (JSON) says how it went
        let landed = null;
        try {
          if (win && !win.closed && win.location.pathname === CALLBACK && win.document.readyState === 'complete') landed = win.document.body?.innerText || '';
        } catch {
          /* still at Intuit (another origin) */
        }
        if (landed !== null) {
          let answer = null;
          try {
            answer = JSON.parse(landed);
          } catch {
            /* not JSON: fall through to the status */
          }
          if (answer?.error) {
            done(false);
            status.textContent = '';
            const e = answer.error;
            mount(alertBox, errorBox({ message: e.message, code: e.code }, 'QuickBooks was not connected'));
            await refresh();
            return;
          }
        }
        const s = await refresh();
        if (s.configured && s.status === 'connected' && s.updatedAt !== before) {
          const realm = s.fields?.realm_id;
          done(true, `Connected to QuickBooks${realm ? ` (company ${realm})` : ''}.`);
          return;
        }
        if ((win && win.closed && landed === null && !linkBox.firstChild) || Date.now() > deadline) {
          done(false);
          status.textContent = 'The QuickBooks window closed before the connection finished. Connect again to retry.';
        }
      } catch (err) {
        done(false);
        mount(alertBox, errorBox(err, 'Could not follow the connection'));
      } finally {
        busy = false;
      }
    }, 1000);
  }

  return {
    el,
    cleanup() {
      stop();
    },
  };
}
