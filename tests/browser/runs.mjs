// tests/browser/runs.mjs - driven by runs.sh: the Runs and Overview pages. Env: ENGINE_URL,
// ADMIN_TOKEN, ORDERS (orders seeded for the first run), WOO / QBO (the mocks' control bases),
// ORDER_TEMPLATE (the fixture order), SECRETS (one a line), OUT (where the run ids go for the
// shell's API checks).
import { readFileSync, writeFileSync } from 'node:fs';
import {
  run, newPage, login, go, check, pass, fail, screenshot, horizontalOverflow, checkNoSecrets,
  DESKTOP, PHONE,
} from './lib/harness.mjs';

const ORDERS = Number(process.env.ORDERS || 300);
const { WOO, QBO, OUT } = process.env;
const SECRETS = (process.env.SECRETS || '').split('\n').filter(Boolean);
const TEMPLATE = JSON.parse(readFileSync(process.env.ORDER_TEMPLATE, 'utf8'));
const TAG = '5 Dry Run Lane';
const FINAL = /^(succeeded|partial|failed|cancelled)$/;
const LONG = 300000;

async function post(url, body) {
  const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${url}: ${r.status}`);
}

/** The orders runs.sh's seed_orders makes (23 customers, 11 skus), optionally re-addressed. */
async function seed(first, n, date, tag = '', edit = null) {
  const t0 = Date.parse(`${date}Z`);
  const records = [];
  for (let i = 0; i < n; i++) {
    const id = first + i;
    const o = structuredClone(TEMPLATE);
    o.id = id;
    o.number = String(id);
    const t = new Date(t0 + i * 3600000).toISOString().slice(0, 19);
    for (const k of ['date_created', 'date_created_gmt', 'date_modified', 'date_modified_gmt']) o[k] = t;
    const c = id % 23;
    o.customer_id = 1000 + c;
    o.billing.email = `buyer${c}@example.com`;
    o.billing.first_name = 'Buyer';
    o.billing.last_name = `No${c}`;
    if (tag) o.billing.address_1 = tag;
    o.line_items.forEach((li, j) => {
      li.sku = `SKU-${(id + j) % 11}`;
      li.name = `Product ${li.sku}`;
    });
    if (edit) edit(o);
    records.push(o);
  }
  await post(`${WOO}/_mock/seed`, { entity: 'orders', records });
}

/** Start a run from the Runs page's form; resolves with its id once the page shows it. */
async function startRun(page, { mode, dry }) {
  await go(page, '#/runs');
  await page.waitForSelector('[data-action=start-run]');
  await page.selectOption('select[data-field=entity]', 'orders');
  await page.selectOption('select[data-field=mode]', mode);
  await page.setChecked('input[data-field=dry-run]', dry);
  await page.click('[data-action=start-run]');
  await page.waitForFunction(() => /^#\/runs\/sync_/.test(location.hash), null, { timeout: 60000 });
  await page.waitForSelector('main [data-run-state]');
  return page.evaluate(() => decodeURIComponent(location.hash.split('/')[2]));
}

/** The detail page's state text, once it is final. */
async function finalState(page) {
  await page.waitForFunction(
    (re) => new RegExp(re).test(document.querySelector('main [data-run-state]')?.textContent || ''),
    FINAL.source,
    { timeout: LONG },
  );
  return (await page.textContent('main [data-run-state]')).trim();
}

function parseProgress(s) {
  const m = /^(\d+) \/ (\d+|\?)$/.exec((s || '').trim());
  return m ? { done: Number(m[1]), total: m[2] === '?' ? null : Number(m[2]) } : null;
}

/** USD from minor units as the page writes it ("1,234.56 USD"), computed here independently. */
function usd(minor) {
  const neg = minor < 0;
  const a = Math.abs(minor);
  return `${neg ? '−' : ''}${Math.floor(a / 100).toLocaleString('en')}.${String(a % 100).padStart(2, '0')} USD`;
}

async function apiGet(page, path) {
  return page.evaluate(async (p) => (await fetch(p, { headers: { Accept: 'application/json' } })).json(), path);
}

run(async (browser) => {
  const ids = {};
  const page = await newPage(browser, DESKTOP, { timeout: 30000 });
  await login(page);

  // ---- a full run from the page, watched until it succeeds
  await page.evaluate(() => {
    window.__noReload = true;
  });
  const invoices = async () => ((await (await fetch(`${QBO}/_mock/state`)).json()).entities?.Invoice || []).length;
  const invoicesBefore = await invoices();
  ids.full = await startRun(page, { mode: 'full', dry: false });
  check('starting a full run from the page opens its detail', /^sync_[0-9a-f]+$/.test(ids.full), ids.full);
  // record every progress text the page shows, as it shows it
  await page.evaluate(() => {
    window.__progress = [];
    const note = () => {
      const t = document.querySelector('main [data-run-progress]')?.textContent;
      if (t && window.__progress[window.__progress.length - 1] !== t) window.__progress.push(t);
    };
    note();
    new MutationObserver(note).observe(document.querySelector('main'), { subtree: true, childList: true, characterData: true });
  });
  const state = await finalState(page);
  const seen = (await page.evaluate(() => window.__progress)).map(parseProgress);
  check('the run reads succeeded', state === 'succeeded', state);
  const done = seen.filter(Boolean).map((p) => p.done);
  const distinct = [...new Set(done)];
  check(`its progress moved at least twice before it ended (${distinct.join(' → ')})`, distinct.length >= 3, JSON.stringify(seen));
  check('... never backwards', done.every((d, i) => i === 0 || d >= done[i - 1]));
  const last = seen[seen.length - 1];
  check(`... and ends at all of the orders (${last && `${last.done} / ${last.total}`})`, last && last.done >= ORDERS && last.done === last.total);
  check('... all without a reload', await page.evaluate(() => window.__noReload === true));

  // the detail: outcomes and reconciliation, as the engine holds them
  const runJ = await apiGet(page, `/api/sync/status/${ids.full}`);
  await page.waitForSelector(`[data-records-total="${runJ.counts.read}"]`).then(
    () => pass(`the detail counts the run's ${runJ.counts.read} records`),
    (e) => fail("the detail counts the run's records", e.message),
  );
  const rows = await page.$$eval('tr[data-record-id]', (trs) => trs.map((tr) => tr.children[1].textContent));
  check(`... and lists them page by page (${rows.length} on the first)`, rows.length === Math.min(25, runJ.counts.read));
  check('... each with its outcome (created here)', rows.length > 0 && rows.every((t) => /created|unchanged/.test(t)), rows.slice(0, 5).join(', '));
  check(`QuickBooks holds one new invoice per order the run created (${runJ.counts.created})`, (await invoices()) === invoicesBefore + runJ.counts.created && runJ.counts.created >= ORDERS);
  const created = await page.textContent('[data-count=created] .big');
  check(`... the created count is the engine's (${runJ.counts.created})`, created.trim() === String(runJ.counts.created), created);
  const src = (await page.textContent('[data-field=source-total]')).trim();
  const tgt = (await page.textContent('[data-field=target-total]')).trim();
  check(`reconciliation: the source total is exact (${src})`, src === usd(runJ.reconciliation.sourceTotalMinor), `API ${runJ.reconciliation.sourceTotalMinor}`);
  check(`reconciliation: the target total is exact (${tgt})`, tgt === usd(runJ.reconciliation.targetTotalMinor), `API ${runJ.reconciliation.targetTotalMinor}`);
  check('... and they agree', runJ.reconciliation.differenceMinor === 0 && (await page.textContent('[data-reconciliation]')).includes(usd(0)));
  await screenshot(page, 'run-detail');

  // ---- a dry run: five orders re-addressed; their differences side by side
  await seed(5000, 5, '2026-01-01T00:00:00', TAG);
  ids.dry = await startRun(page, { mode: 'full', dry: true });
  check('a dry run started from the page', (await finalState(page)) === 'succeeded');
  await page.selectOption('select[data-field=outcome]', 'updated');
  await page.waitForSelector('[data-records-total="5"]').then(
    () => pass('the dry run would update exactly the 5 changed orders'),
    (e) => fail('the dry run would update exactly the 5 changed orders', e.message),
  );
  await page.click('tr[data-record-id] [data-action=record-detail]');
  await page.waitForSelector('table.diff');
  const diff = await page.$$eval('table.diff tbody tr', (trs) =>
    trs.map((tr) => ({ path: tr.dataset.diffPath, now: tr.querySelector('.diff-del')?.textContent, next: tr.querySelector('.diff-add')?.textContent })),
  );
  const addr = diff.find((d) => d.now && d.next && d.next.includes(TAG));
  check('side by side: the address the target holds now and the one the run would write', addr && addr.now.includes('969 Market'), JSON.stringify(diff.slice(0, 10)));
  check('... named by its field', addr && /^BillAddr/.test(addr.path), addr && addr.path);
  check('... and only what differs', diff.length > 0 && diff.every((d) => d.now !== d.next), JSON.stringify(diff.slice(0, 10)));
  await page.evaluate(() => document.getElementById('run-rec-h').scrollIntoView());
  await screenshot(page, 'run-dry-run');
  const qbo = await (await fetch(`${QBO}/_mock/state`)).json();
  const written = (qbo.entities?.Invoice || []).filter((inv) => JSON.stringify(inv).includes(TAG)).length;
  check('... and QuickBooks still holds the old addresses (the dry run wrote nothing)', written === 0 && (qbo.entities?.Invoice || []).length > 0, `${written} invoices with the new address`);

  // ---- an incremental run with a record the mapping refuses: partial, its failure linked
  await seed(5900, 1, '2026-03-01T00:00:00', '', (o) => {
    o.line_items[0].total = 'abc';
  });
  ids.partial = await startRun(page, { mode: 'incremental', dry: false });
  check('an incremental run with a refused order ends partial', (await finalState(page)) === 'partial');
  const summary = await page.waitForSelector('[data-failures-summary]');
  check('... its failures are summarised', /1 failed/.test(await summary.innerText()), await summary.innerText());
  await page.selectOption('select[data-field=outcome]', 'failed');
  await page.waitForSelector('[data-records-total="1"]');
  await page.click('tr[data-source-id="5900"] [data-action=record-detail]');
  const why = await page.waitForSelector('tr.record-detail:not([hidden]) .error');
  check('... the failed record says why', /cannot parse "abc"/.test(await why.innerText()), await why.innerText());
  const href = await page.getAttribute('tr.record-detail:not([hidden]) a[data-link=failure]', 'href');
  const fid = decodeURIComponent((href || '').replace('#/failures/', ''));
  const failure = await page.evaluate(async (id) => (await fetch(`/api/sync/failures/${id}`)).json(), fid);
  check(`... and links to its failure (${href}), the one the engine holds for order 5900`, failure.sourceId === '5900' && failure.runId === ids.partial, JSON.stringify(failure).slice(0, 300));

  // ---- the history's filters
  await go(page, '#/runs');
  await page.waitForSelector(`tr[data-run-id="${ids.full}"]`);
  await page.selectOption('select[data-field=filter-dry-run]', 'true');
  await page.waitForFunction((f) => !document.querySelector(`tr[data-run-id="${f}"]`), ids.full);
  check('history filtered to dry runs: the dry run, not the real one', (await page.locator(`tr[data-run-id="${ids.dry}"]`).count()) === 1);
  await page.selectOption('select[data-field=filter-dry-run]', 'false');
  await page.waitForSelector(`tr[data-run-id="${ids.full}"]`);
  check('history filtered to real runs: the real run, not the dry one', (await page.locator(`tr[data-run-id="${ids.dry}"]`).count()) === 0);
  await page.selectOption('select[data-field=filter-state]', 'failed');
  await page.waitForFunction((f) => !document.querySelector(`tr[data-run-id="${f}"]`), ids.full);
  pass('history filtered to failed runs: the succeeded run is gone');
  await page.selectOption('select[data-field=filter-state]', '');
  await page.selectOption('select[data-field=filter-dry-run]', '');
  await page.waitForSelector(`tr[data-run-id="${ids.dry}"]`);

  // ---- stop a running run (QuickBooks slowed, each document of a batch too, so it is still
  // running when asked)
  await seed(5400, 200, '2026-04-01T00:00:00');
  await post(`${QBO}/_mock/config`, { slow_ms: 300, item_ms: 300 });
  ids.stopped = await startRun(page, { mode: 'full', dry: false });
  await page.waitForFunction(() => (document.querySelector('main [data-run-state]')?.textContent || '') === 'running', null, { timeout: LONG });
  // the Overview shows it running, with its progress
  await go(page, '#/overview');
  await page.waitForSelector(`li[data-run-id="${ids.stopped}"] [data-run-progress]`).then(
    () => pass('Overview: the running run with its progress'),
    (e) => fail('Overview: the running run with its progress', e.message),
  );
  await page.waitForSelector('.chart .uplot, [data-hourly-total]');
  const hourly = Number(await page.getAttribute('[data-hourly-total]', 'data-hourly-total'));
  check(`Overview: records synced per hour count this hour's writes (${hourly})`, hourly >= runJ.counts.created, hourly);
  check('Overview: the chart is drawn (uPlot)', (await page.locator('.chart .uplot canvas').count()) === 1);
  const qd = await page.getAttribute('[data-queue-depth]', 'data-queue-depth');
  check(`Overview: the queue depth is shown (${qd})`, /^\d+$/.test(qd || ''));
  // the picture for the README: once the run shows some progress
  await page.waitForFunction((id) => !/^0 \//.test(document.querySelector(`li[data-run-id="${id}"] [data-run-progress]`)?.textContent || '0 /'), ids.stopped, { timeout: LONG });
  await screenshot(page, 'overview');
  await go(page, '#/runs');
  const stopBtn = `li[data-run-id="${ids.stopped}"] [data-action=stop-run]`;
  await page.waitForSelector(stopBtn);
  await screenshot(page, 'runs');
  await page.click(stopBtn);
  await page.waitForSelector(`tr[data-run-id="${ids.stopped}"]`, { timeout: LONG }).then(
    () => pass('stopped from the Runs page, the run leaves "In progress" for the history'),
    (e) => fail('stopped from the Runs page, the run leaves "In progress" for the history', e.message),
  );
  const histState = (await page.textContent(`tr[data-run-id="${ids.stopped}"] .pill`)).trim();
  check('... as cancelled', histState === 'cancelled', histState);
  await post(`${QBO}/_mock/config`, { slow_ms: 0, item_ms: 0 });
  await go(page, `#/runs/${ids.stopped}`);
  const sp = parseProgress(await page.textContent('main [data-run-progress]'));
  check(`... its detail shows it part done (${sp && `${sp.done} / ${sp.total}`})`, sp && sp.total && sp.done < sp.total);
  const errs = (p) => p.errors.filter((e) => !/^Failed to load resource/.test(e));
  check('no script error on the desktop pages', errs(page).length === 0, ...errs(page));
  await checkNoSecrets(page, SECRETS, 'Runs and Overview (desktop)');
  writeFileSync(OUT, JSON.stringify(ids));

  // ---- a phone's width
  const pp = await newPage(browser, PHONE, { timeout: 30000 });
  await login(pp);
  const views = [
    ['#/overview', '[data-queue-depth]', 'overview'],
    ['#/runs', `tr[data-run-id="${ids.full}"]`, 'runs'],
    [`#/runs/${ids.full}`, '[data-records-total]', 'run-detail'],
    [`#/runs/${ids.dry}`, '[data-records-total]', 'run-dry-run'],
  ];
  for (const [hash, ready, name] of views) {
    await go(pp, hash);
    await pp.waitForSelector(ready);
    if (name === 'run-dry-run') {
      await pp.selectOption('select[data-field=outcome]', 'updated');
      await pp.waitForSelector('[data-records-total="5"]');
      await pp.click('tr[data-record-id] [data-action=record-detail]');
      await pp.waitForSelector('table.diff');
      await pp.evaluate(() => document.querySelector('tr[data-record-id]').scrollIntoView());
    }
    const over = await horizontalOverflow(pp);
    check(`390 px: ${name} does not scroll sideways`, over <= 0, `${over} px too wide`);
    await screenshot(pp, name);
  }
  check('no script error on the phone', errs(pp).length === 0, ...errs(pp));
  await checkNoSecrets(pp, SECRETS, 'Runs and Overview (phone)');
});
