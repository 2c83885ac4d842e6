// tests/browser/connections.mjs - the Connections page (run by connections.sh): credentials stored
// through the forms, a refused field shown on the field, secrets write-only, test connection,
// WooCommerce webhooks check and register, the QuickBooks OAuth connect flow through the mock and
// back, a tenant's own view, delete; screenshots, 390 px, no secret in the page or its answers.
import { run, newPage, login, go, screenshot, horizontalOverflow, checkNoSecrets, check, fail, DESKTOP, PHONE, ENGINE_URL, ADMIN_TOKEN } from './lib/harness.mjs';

const E = process.env;

async function apiGet(path, token = ADMIN_TOKEN) {
  const r = await fetch(`${ENGINE_URL}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

const sec = (p) => `section[data-platform=${p}]`;

async function secretsBlank(page, platform) {
  return page.$$eval(`${sec(platform)} input[data-secret]`, (xs) => xs.every((x) => x.value === ''));
}

run(async (browser) => {
  const page = await newPage(browser, DESKTOP);
  page.on('dialog', (d) => d.accept());
  await login(page);
  await go(page, '#/connections');
  await page.waitForSelector(`${sec('woocommerce')} input[data-field=store_url]`);
  await page.waitForSelector(`${sec('quickbooks')} input[data-field=client_id]`);
  const labels = await page.$$eval(`${sec('woocommerce')} form label`, (ls) => ls.map((l) => l.textContent));
  check('the WooCommerce form is built from its declared fields', ['store url', 'consumer key', 'consumer secret', 'webhook secret', 'auth'].every((n) => labels.some((l) => l.startsWith(n))), labels.join(' | '));
  check('... secrets are password inputs', (await page.$$eval(`${sec('woocommerce')} input[data-secret]`, (xs) => xs.map((x) => `${x.name}:${x.type}`))).join(',') === 'consumer_key:password,consumer_secret:password,webhook_secret:password');
  check('... each control is labelled', await page.$$eval(`${sec('woocommerce')} form [data-field]`, (xs) => xs.every((x) => x.labels && x.labels.length > 0)));

  // a value the API refuses: its message on the field
  const w = sec('woocommerce');
  await page.fill(`${w} input[data-field=store_url]`, 'ftp://shop.example.com');
  await page.fill(`${w} input[data-field=consumer_key]`, E.WOO_KEY);
  await page.fill(`${w} input[data-field=consumer_secret]`, E.WOO_SECRET);
  await page.fill(`${w} input[data-field=webhook_secret]`, E.WH_SECRET);
  await page.click(`${w} [data-action=save-credentials]`);
  await page.waitForSelector(`${w} #cred-woocommerce-store_url-err:not(:empty)`);
  const msg = await page.locator(`${w} #cred-woocommerce-store_url-err`).innerText();
  check(`a refused store_url shows the API's message on the field (${msg})`, /store_url/.test(msg) && /https|http/.test(msg));
  check('... marked invalid', (await page.getAttribute(`${w} input[data-field=store_url]`, 'aria-invalid')) === 'true');
  const st0 = await apiGet('/api/integrations/woocommerce/status');
  check('... and nothing was stored', st0.configured === false);

  // store
  await page.fill(`${w} input[data-field=store_url]`, E.WOO_STORE);
  await page.click(`${w} [data-action=save-credentials]`);
  await page.waitForFunction((s) => /credentials saved/.test(document.querySelector(`${s} [data-pane=status]`)?.textContent || ''), w);
  const st1 = await apiGet('/api/integrations/woocommerce/status');
  check('stored through the form: the API has the WooCommerce credentials', st1.configured === true && st1.fields.store_url === E.WOO_STORE);
  check('... the secret inputs are emptied', await secretsBlank(page, 'woocommerce'));
  const ph = await page.getAttribute(`${w} input[data-field=consumer_secret]`, 'placeholder');
  check(`... a saved secret says "${ph}"`, ph === 'saved, enter a new value to replace');
  check('... the store URL (not a secret) is shown', (await page.inputValue(`${w} input[data-field=store_url]`)) === E.WOO_STORE);
  check('... and no mask of a secret is in the page', !(await page.content()).includes('****'));

  // test the connection
  await page.click(`${w} [data-action=test-connection]`);
  await page.waitForFunction((s) => document.querySelector(`${s} [data-pane=status]`)?.dataset.testOk !== undefined, w, { timeout: 60000 });
  check('test connection: the page says it works', (await page.locator(`${w} [data-pane=status]`).getAttribute('data-test-ok')) === 'true', await page.locator(`${w} [data-pane=status]`).innerText());
  check('... and the API recorded it', (await apiGet('/api/integrations/woocommerce/status')).lastTestOk === true);

  // webhooks: check (missing), register, check (delivering)
  await page.click(`${w} [data-action=webhooks-check]`);
  await page.waitForSelector(`${w} [data-webhooks-ok]`, { timeout: 60000 });
  check('webhooks check: not delivering before registering', (await page.getAttribute(`${w} [data-webhooks-ok]`, 'data-webhooks-ok')) === 'false');
  check('... every topic missing', (await page.$$eval(`${w} tr[data-topic]`, (rs) => rs.map((r) => r.dataset.topicStatus))).every((s) => s === 'missing'));
  await page.click(`${w} [data-action=webhooks-register]`);
  await page.waitForSelector(`${w} [data-registered]`, { timeout: 60000 });
  check('webhooks register: seven registered', (await page.getAttribute(`${w} [data-registered]`, 'data-registered')) === '7', await page.locator(`${w} [data-registered]`).innerText());
  await page.click(`${w} [data-action=webhooks-check]`);
  await page.waitForSelector(`${w} [data-webhooks-ok=true]`, { timeout: 60000 }).then(
    () => check('webhooks check after register: delivering', true),
    (e) => fail('webhooks check after register: delivering', e),
  );

  // QuickBooks: credentials, then the OAuth connect flow through the mock and back
  const q = sec('quickbooks');
  await page.fill(`${q} input[data-field=client_id]`, E.CLIENT_ID);
  await page.fill(`${q} input[data-field=client_secret]`, E.CLIENT_SECRET);
  await page.fill(`${q} input[data-field=realm_id]`, '1111');
  await page.click(`${q} [data-action=save-credentials]`);
  await page.waitForFunction((s) => /credentials saved/.test(document.querySelector(`${s} [data-pane=status]`)?.textContent || ''), q);
  check('QuickBooks credentials stored through the form', (await apiGet('/api/integrations/quickbooks/status')).configured === true);
  // every navigation of another window of this context (listened to before the click: the
  // popup starts navigating at once)
  const visited = [];
  page.context().on('request', (r) => {
    if (r.isNavigationRequest() && r.frame().page() !== page) visited.push(r.url());
  });
  const [popup] = await Promise.all([page.waitForEvent('popup'), page.click(`${q} [data-action=qbo-connect]`)]);
  await page.waitForSelector(`${q} [data-qbo-connected]`, { timeout: 60000 }).then(
    () => check('OAuth: the page shows QuickBooks connected', true),
    (e) => fail('OAuth: the page shows QuickBooks connected', e, visited.join('\n')),
  );
  const said = await page.locator(`${q} [data-pane=status]`).innerText();
  check(`... naming the company the callback brought (${said})`, said.includes(E.REALM));
  check('... the browser went to Intuit (the mock) and back to the engine’s callback', visited.some((u) => u.startsWith(`${E.OAUTH}/connect/oauth2`)) && visited.some((u) => u.startsWith(`${ENGINE_URL}/api/integrations/quickbooks/callback?`)), visited.join('\n'));
  check('... and the Intuit window was closed', popup.isClosed());
  const qs1 = await apiGet('/api/integrations/quickbooks/status');
  check('the API: QuickBooks connected, the realm from the callback, tokens stored', qs1.status === 'connected' && qs1.fields.realm_id === E.REALM && qs1.realmVerified === true && qs1.fields.access_token !== undefined, JSON.stringify(qs1));
  await page.waitForFunction((s) => /connected/.test(document.querySelector(`${s} [data-field=state]`)?.textContent || ''), q);
  check('... and the section says connected', true);

  const issued = await (await fetch(`${E.OAUTH}/mock/issued`)).json();
  const secrets = [E.WOO_KEY, E.WOO_SECRET, E.WH_SECRET, E.CLIENT_SECRET, ...(issued.access_tokens || []), ...(issued.refresh_tokens || []), ...(issued.codes || [])];
  check('no secret in any input of the page', await page.$$eval('input', (xs, s) => xs.every((x) => !s.includes(x.value) || x.value === ''), secrets));
  await checkNoSecrets(page, secrets, 'connections (admin)');
  check('desktop: no horizontal scroll', (await horizontalOverflow(page)) === 0);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'connections');

  // a phone
  const phone = await newPage(browser, PHONE);
  await login(phone);
  await go(phone, '#/connections');
  await phone.waitForSelector(`${sec('quickbooks')} [data-action=qbo-connect]`);
  await phone.waitForSelector(`${sec('woocommerce')} [data-pane=replace]`);
  await screenshot(phone, 'connections');
  check('390 px: no horizontal scroll', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await phone.click(`${sec('woocommerce')} [data-pane=replace] summary`);
  await phone.waitForSelector(`${sec('woocommerce')} input[data-field=store_url]`);
  check('390 px: nor with the replace form open', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await checkNoSecrets(phone, secrets, 'connections (phone)');
  await phone.context().close();

  // another tenant's token sees its own (empty) connections, none of default's
  const tp = await newPage(browser, DESKTOP);
  await login(tp, E.TENANT_TOKEN);
  await go(tp, '#/connections');
  await tp.waitForSelector(`${sec('woocommerce')} input[data-field=store_url]`);
  check("tenant shop-b: WooCommerce not connected, default's store URL nowhere", /not connected/.test(await tp.locator(`${sec('woocommerce')} [data-field=state]`).innerText()) && !(await tp.content()).includes(E.WOO_STORE));
  await checkNoSecrets(tp, secrets, 'connections (tenant)');
  await tp.context().close();

  // delete (QuickBooks)
  await page.click(`${q} [data-action=delete-credentials]`);
  await page.waitForFunction((s) => /not connected/.test(document.querySelector(`${s} [data-field=state]`)?.textContent || ''), q);
  check('delete: the section says not connected', true);
  check('... and the API has nothing stored', (await apiGet('/api/integrations/quickbooks/status')).configured === false);
  const errors = page.errors.filter((e) => !/status of (401|422)/.test(e)); // the login probe, the refused store_url
  check('no script error on the page', errors.length === 0, ...errors);
});
