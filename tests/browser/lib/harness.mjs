// tests/browser/lib/harness.mjs - what every console browser test shares: Debian's chromium
// through playwright-core (web/node_modules), a signed-in page, screenshots at the two sizes the
// README shows, the checks a user relies on (no horizontal scroll at 390 px, no stored secret in
// the DOM or in any API answer the page fetched), and results printed as "ok   ..." /
// "FAIL ..." lines that tests/browser/lib/browser_env.sh counts.
import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(new URL('../../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const ENGINE_URL = process.env.ENGINE_URL;
export const ADMIN_TOKEN = process.env.ADMIN_TOKEN;
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

let failed = 0;
export function pass(desc) {
  console.log(`ok   ${desc}`);
}
export function fail(desc, ...detail) {
  failed++;
  console.log(`FAIL ${desc}`);
  for (const d of detail) console.log(String(d).split('\n').slice(0, 40).map((l) => `     | ${l}`).join('\n'));
}
export function check(desc, cond, ...detail) {
  if (cond) pass(desc);
  else fail(desc, ...detail);
  return !!cond;
}
export function failures() {
  return failed;
}

/** Launch chromium; returns {browser, context(viewport) -> context with response recording}. */
export async function launch() {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_BIN || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  return browser;
}

/**
 * A new context and page at a viewport. Every API answer the page fetches is kept in
 * page.apiBodies ([{url, status, body}]) for the secret checks; console errors in page.errors.
 */
export async function newPage(browser, viewport = DESKTOP, opts = {}) {
  const context = await browser.newContext({ viewport, colorScheme: opts.colorScheme || 'light' });
  const page = await context.newPage();
  page.setDefaultTimeout(opts.timeout || 20000);
  page.apiBodies = [];
  page.errors = [];
  page.on('response', async (res) => {
    const url = res.url();
    if (!url.includes('/api/')) return;
    try {
      page.apiBodies.push({ url, status: res.status(), body: await res.text() });
    } catch {
      /* a body the page no longer holds (navigation) */
    }
  });
  page.on('pageerror', (e) => page.errors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') page.errors.push(m.text());
  });
  return page;
}

/** Sign in through the login form with a token; resolves when the shell is up. */
export async function login(page, token = ADMIN_TOKEN) {
  await page.goto(`${ENGINE_URL}/`);
  await page.fill('#token', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('header.top nav');
}

/** Go to a console route (#/runs/ID) and wait for the page's main heading. */
export async function go(page, hash) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
  await page.waitForSelector('main h1');
}

/** Save NAME-desktop.png and NAME-phone.png into SCREENSHOTS_DIR. */
export async function screenshot(page, name) {
  const dir = process.env.SCREENSHOTS_DIR;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const vp = page.viewportSize();
  const kind = vp.width <= 480 ? 'phone' : 'desktop';
  await page.screenshot({ path: path.join(dir, `${name}-${kind}.png`), fullPage: false });
}

/** The page scrolls sideways (the document is wider than the viewport). */
export async function horizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Check that no secret (strings) appears in the DOM or in any API answer the page fetched. */
export async function checkNoSecrets(page, secrets, where) {
  const html = await page.content();
  for (const s of secrets.filter((x) => x && x.length >= 6)) {
    const inDom = html.includes(s);
    const inApi = page.apiBodies.filter((b) => b.body.includes(s)).map((b) => b.url);
    check(`${where}: no stored secret (…${s.slice(-4)}) in the page`, !inDom);
    check(`${where}: no stored secret (…${s.slice(-4)}) in the ${page.apiBodies.length} API answers the page fetched`, inApi.length === 0, ...inApi);
  }
}

/** Run main(browser) and exit non-zero on any failure or exception. */
export async function run(main) {
  let browser;
  try {
    browser = await launch();
    await main(browser);
  } catch (e) {
    fail(`the script ran to its end`, e && e.stack ? e.stack : String(e));
  } finally {
    if (browser) await browser.close().catch(() => {});
  }
  process.exit(failed > 0 ? 1 : 0);
}
