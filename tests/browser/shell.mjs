// tests/browser/shell.mjs - driven by shell.sh: the console's shell (login, storage, nav,
// logout, tenants, phone width, keyboard). Env: ENGINE_URL, ADMIN_TOKEN, TOKEN_A (shop-a's
// tenant token), RUN_A / RUN_B (a run of shop-a / shop-b), SECRETS (stored secrets, one a line).
import {
  run, newPage, login, check, pass, fail, screenshot, horizontalOverflow, checkNoSecrets,
  DESKTOP, PHONE, ENGINE_URL, ADMIN_TOKEN,
} from './lib/harness.mjs';

const { TOKEN_A, RUN_A, RUN_B } = process.env;
const SECRETS = (process.env.SECRETS || '').split('\n').filter(Boolean);
const PAGES = ['overview', 'runs', 'failures', 'connections', 'mappings', 'settings'];

/** Go to a page through the nav and wait until it is the current one with its heading. */
async function navTo(page, id) {
  await page.click(`nav a[data-page="${id}"]`);
  await page.waitForSelector(`nav a[data-page="${id}"][aria-current="page"]`);
  await page.waitForSelector('main h1');
}

/** Wait until the page has its data (no "Loading…" left in it). */
async function settled(page) {
  await page.waitForFunction(() => !/Loading…/.test(document.querySelector('main')?.innerText || 'Loading…'));
}

/** Script errors (uncaught exceptions, console errors), not a resource the engine answered 4xx. */
function scriptErrors(page) {
  return page.errors.filter((e) => !/^Failed to load resource/.test(e));
}

/** What the page keeps where scripts can read it. */
async function storage(page) {
  return page.evaluate(() => ({
    local: JSON.stringify(Object.entries(localStorage)),
    session: JSON.stringify(Object.entries(sessionStorage)),
    cookie: document.cookie,
    dom: document.documentElement.outerHTML,
  }));
}

async function sessionCookie(page) {
  return (await page.context().cookies()).find((c) => c.name === 'tallysync_session');
}

run(async (browser) => {
  // ---- the login page; a wrong token
  const page = await newPage(browser, DESKTOP);
  await page.goto(`${ENGINE_URL}/`);
  await page.waitForSelector('#token');
  await screenshot(page, 'login');
  await page.fill('#token', 'not-the-token-0123456789');
  await page.click('button[type=submit]');
  const alert = await page.waitForSelector('.login [role=alert]');
  const text = (await alert.innerText()).trim();
  check('a wrong token: the login says why in words', text.length > 10 && /token|sign|unauthor/i.test(text), text);
  check('... and shows no raw JSON', !/[{}]|"error"|"code"/.test(text), text);
  check('... the token field is empty again', (await page.inputValue('#token')) === '');
  check('... and no session cookie was set', !(await sessionCookie(page)));

  // ---- sign in; the token is kept nowhere a script can read
  await page.fill('#token', ADMIN_TOKEN);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top nav');
  pass('the administrator signs in with the token');
  const st = await storage(page);
  check('the token is not in localStorage', !st.local.includes(ADMIN_TOKEN));
  check('the token is not in sessionStorage', !st.session.includes(ADMIN_TOKEN));
  check('the token is not in document.cookie', !st.cookie.includes(ADMIN_TOKEN));
  check('the session cookie is HttpOnly (document.cookie does not show it)', !st.cookie.includes('tallysync_session'));
  check('the token is not in the DOM', !st.dom.includes(ADMIN_TOKEN));
  const cookie = await sessionCookie(page);
  check('the session cookie is HttpOnly and SameSite=Strict', cookie && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie && { ...cookie, value: '…' }));
  check('the session cookie is not the token', cookie && cookie.value !== ADMIN_TOKEN && !cookie.value.includes(ADMIN_TOKEN));

  // ---- every page from the nav
  for (const id of PAGES) {
    await navTo(page, id);
    await settled(page);
    const h1 = (await page.innerText('main h1')).trim();
    check(`nav: ${id} opens (heading "${h1}")`, h1.length > 0 && page.url().endsWith(`#/${id}`), page.url());
  }
  await navTo(page, 'overview');
  check('no page threw a script error', scriptErrors(page).length === 0, ...scriptErrors(page));
  await checkNoSecrets(page, SECRETS, 'admin, every page');

  // ---- sign out: back to the login, the old cookie is dead
  const before = await sessionCookie(page);
  await page.click('header.top button:has-text("Sign out")');
  await page.waitForSelector('#token');
  pass('signing out shows the login');
  const res = await fetch(`${ENGINE_URL}/api/session`, { headers: { Cookie: `tallysync_session=${before.value}` } });
  check('... and the old session cookie no longer works (GET /api/session: 401)', res.status === 401, res.status);
  const res2 = await fetch(`${ENGINE_URL}/api/sync/status`, { headers: { Cookie: `tallysync_session=${before.value}` } });
  check('... nor on any other route (GET /api/sync/status: 401)', res2.status === 401, res2.status);
  await page.reload();
  await page.waitForSelector('#token');
  pass('... and a reload still shows the login');
  await page.context().close();

  // ---- a tenant token: its own tenant only, no switcher
  const pa = await newPage(browser, DESKTOP);
  await login(pa, TOKEN_A);
  check('a tenant token has no tenant switcher', (await pa.locator('#tenant-switch').count()) === 0);
  check('... and the header names its tenant', (await pa.innerText('header.top .who')).includes('shop-a'));
  await navTo(pa, 'runs');
  await pa.waitForSelector(`tr[data-run-id="${RUN_A}"]`).then(
    () => pass("shop-a's token: Runs shows shop-a's run"),
    (e) => fail("shop-a's token: Runs shows shop-a's run", e.message),
  );
  check("... and never shop-b's run (page)", !(await pa.content()).includes(RUN_B));
  await navTo(pa, 'overview');
  await pa.waitForSelector('[data-queue-depth]');
  await pa.waitForSelector(`a[href="#/runs/${RUN_A}"]`).then(
    () => pass("shop-a's token: Overview shows shop-a's last reconciliation"),
    (e) => fail("shop-a's token: Overview shows shop-a's last reconciliation", e.message),
  );
  check("... and never shop-b's run (page)", !(await pa.content()).includes(RUN_B));
  await pa.evaluate((id) => { location.hash = `#/runs/${id}`; }, RUN_B);
  const nf = await pa.waitForSelector('main [role=alert]');
  check("opening shop-b's run by its id: the page says there is no such run", /no such run/i.test(await nf.innerText()), await nf.innerText());
  const leaked = pa.apiBodies.filter((b) => b.body.includes(RUN_B) && b.status < 300).map((b) => b.url);
  check(`... and none of the ${pa.apiBodies.length} API answers the page fetched held shop-b's run`, leaked.length === 0, ...leaked);
  await pa.context().close();

  // ---- the administrator switches tenant
  const pb = await newPage(browser, DESKTOP);
  await login(pb);
  await navTo(pb, 'runs');
  await pb.waitForSelector('#tenant-switch');
  const options = await pb.$$eval('#tenant-switch option', (os) => os.map((o) => o.value));
  check('the administrator picks from the tenants the store knows', options.includes('shop-a') && options.includes('shop-b'), options.join(', '));
  await pb.selectOption('#tenant-switch', 'shop-b');
  await pb.waitForSelector(`tr[data-run-id="${RUN_B}"]`).then(
    () => pass("the administrator switched to shop-b sees shop-b's run"),
    (e) => fail("the administrator switched to shop-b sees shop-b's run", e.message),
  );
  check("... and not shop-a's", (await pb.locator(`[data-run-id="${RUN_A}"]`).count()) === 0);
  await pb.selectOption('#tenant-switch', 'shop-a');
  await pb.waitForSelector(`tr[data-run-id="${RUN_A}"]`).then(
    () => pass("... and back on shop-a, shop-a's run"),
    (e) => fail("... and back on shop-a, shop-a's run", e.message),
  );
  check("... and not shop-b's", (await pb.locator(`[data-run-id="${RUN_B}"]`).count()) === 0);
  await pb.context().close();

  // ---- a phone's width: no page scrolls sideways; Tab reaches the nav
  const pp = await newPage(browser, PHONE);
  await pp.goto(`${ENGINE_URL}/`);
  await pp.waitForSelector('#token');
  await screenshot(pp, 'login');
  check('390 px: the login page does not scroll sideways', (await horizontalOverflow(pp)) <= 0, await horizontalOverflow(pp));
  await login(pp);
  for (const id of PAGES) {
    await navTo(pp, id);
    await settled(pp);
    const over = await horizontalOverflow(pp);
    check(`390 px: ${id} does not scroll sideways`, over <= 0, `${over} px too wide`);
  }
  await pp.evaluate(() => document.activeElement && document.activeElement.blur());
  await pp.evaluate(() => window.scrollTo(0, 0));
  let inNav = false;
  for (let i = 0; i < 25 && !inNav; i++) {
    await pp.keyboard.press('Tab');
    inNav = await pp.evaluate(() => !!document.activeElement?.closest('nav'));
  }
  check('390 px: the Tab key reaches the nav', inNav);
  if (inNav) {
    await pp.keyboard.press('Enter');
    const hash = await pp.evaluate(() => location.hash);
    check('... and Enter on a nav link opens its page', /^#\/[a-z]+$/.test(hash), hash);
  }
  await checkNoSecrets(pp, SECRETS, 'phone, every page');
  await pp.context().close();
  // ---- dark and light: the system's dark scheme is followed, every page's text stays readable
  // (WCAG contrast >= 4.5 for body text and links against the page), and the theme button
  // overrides the system both ways
  const pd = await newPage(browser, DESKTOP, { colorScheme: 'dark' });
  await login(pd);
  const contrastOf = (p) =>
    p.evaluate(() => {
      const rgb = (c) => (c.match(/[\d.]+/g) || []).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => {
        const f = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const ratio = (a, b) => {
        const [x, y] = [lum(rgb(a)), lum(rgb(b))].sort((m, n) => n - m);
        return (x + 0.05) / (y + 0.05);
      };
      const bg = getComputedStyle(document.body).backgroundColor;
      const main = document.querySelector('main');
      const link = document.querySelector('main a') || document.querySelector('nav a:not([aria-current])');
      return {
        bgLum: lum(rgb(bg)),
        text: ratio(getComputedStyle(main).color, bg),
        link: link ? ratio(getComputedStyle(link).color, bg) : 99,
      };
    });
  for (const id of PAGES) {
    await navTo(pd, id);
    await settled(pd);
    const c = await contrastOf(pd);
    check(`dark scheme: ${id} has a dark page`, c.bgLum < 0.05, `background luminance ${c.bgLum}`);
    check(`dark scheme: ${id}'s text is readable (contrast ${c.text.toFixed(1)})`, c.text >= 4.5);
    check(`dark scheme: ${id}'s links are readable (contrast ${c.link.toFixed(1)})`, c.link >= 4.5);
  }
  await navTo(pd, 'overview');
  await settled(pd);
  await screenshot(pd, 'overview-dark');
  const themeButton = pd.locator('button', { hasText: /^Theme:/ });
  for (let i = 0; i < 3 && !/light/.test(await themeButton.textContent()); i++) await themeButton.click();
  const cl = await contrastOf(pd);
  check('the theme button picks light over the system\'s dark', cl.bgLum > 0.8, `luminance ${cl.bgLum}`);
  check(`... and its text is readable (contrast ${cl.text.toFixed(1)})`, cl.text >= 4.5);
  await pd.context().close();
});
