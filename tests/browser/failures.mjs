// tests/browser/failures.mjs - the Failures page (run by failures.sh, which made three real
// failures): what each row shows, Tab order, retry one / selected / all (checked through the
// API), a failure's detail and its test case saved from the page, a tenant's view of the draft,
// screenshots, no overflow at 390 px, no secret in the page.
import { readFileSync, writeFileSync } from 'node:fs';
import { run, newPage, login, go, screenshot, horizontalOverflow, checkNoSecrets, check, fail, DESKTOP, PHONE, ENGINE_URL, ADMIN_TOKEN } from './lib/harness.mjs';

const SECRETS = (process.env.SECRETS || '').split('\n').filter(Boolean);

async function apiGet(path, token = ADMIN_TOKEN) {
  const r = await fetch(`${ENGINE_URL}${path}`, { headers: { Authorization: `Bearer ${token}` } });
  return r.json();
}

/** Poll fn() until it returns truthy (the engine works in the background), or give up. */
async function eventually(fn, ms = 60000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function attempts() {
  const r = await apiGet('/api/sync/failures?limit=100');
  return Object.fromEntries(r.items.map((f) => [f.id, f.attempts]));
}

/** What Tab focuses, as a short name: filter:flow, select-all, select:ID, open:ID, retry:ID, ... */
async function focusName(page) {
  return page.evaluate(() => {
    const a = document.activeElement;
    if (!a) return '';
    const row = a.closest('tr[data-failure-id]');
    const id = row ? `:${row.dataset.failureId}` : '';
    if (a.dataset.filter) return `filter:${a.dataset.filter}`;
    if ('selectAll' in a.dataset) return 'select-all';
    if ('select' in a.dataset) return `select${id}`;
    if (a.dataset.action) return `${a.dataset.action}${id}`;
    return `${a.tagName.toLowerCase()}${id}`;
  });
}

run(async (browser) => {
  const page = await newPage(browser, DESKTOP);
  await login(page);
  await go(page, '#/failures');
  await page.waitForSelector('tr[data-failure-id]');
  const before = await attempts();
  const ids = Object.keys(before).map(Number).sort((a, b) => b - a); // newest first, as listed
  check('the list shows the three failures, newest first', JSON.stringify(await page.$$eval('tr[data-failure-id]', (rs) => rs.map((r) => Number(r.dataset.failureId)))) === JSON.stringify(ids), ids);

  // what a row shows: the error, the cause in words, attempts, next retry
  const api = await apiGet('/api/sync/failures?limit=100');
  for (const f of api.items) {
    const row = page.locator(`tr[data-failure-id="${f.id}"]`);
    const err = await row.locator('[data-field=error]').innerText();
    check(`row ${f.id}: shows its error (${err.slice(0, 60)})`, err.length > 0 && f.error.startsWith(err.replace(/…$/, '')));
    const cause = await row.locator('[data-field=cause]').innerText().catch(() => '');
    check(`row ${f.id}: shows the cause in words`, typeof f.cause === 'string' && f.cause.length > 0 && cause.length > 0 && f.cause.startsWith(cause.replace(/…$/, '')), cause, f.cause);
    check(`row ${f.id}: shows its attempts (${f.attempts})`, (await row.locator('[data-field=attempts]').innerText()) === String(f.attempts));
    const next = await row.locator('[data-field=next-retry]').innerText();
    check(`row ${f.id}: says when it is retried (${next})`, next.length > 0 && (f.nextRetryAt ? next !== '—' : /not retried|—/.test(next)));
    check(`row ${f.id}: names its record`, (await row.innerText()).includes(String(f.sourceId)));
  }

  // a row's input, on demand: pretty JSON, collapsible
  const one = api.items[0];
  const oneDetail = await apiGet(`/api/sync/failures/${one.id}`);
  await page.click(`tr[data-failure-id="${one.id}"] [data-action=input]`);
  await page.waitForSelector(`tr[data-input-for="${one.id}"] pre`);
  const shownInput = await page.locator(`tr[data-input-for="${one.id}"] pre`).innerText();
  check(`row ${one.id}: its input, as pretty JSON`, JSON.stringify(JSON.parse(shownInput)) === JSON.stringify(oneDetail.input) && shownInput.includes('\n  '));
  check('... its button says it is expanded', (await page.getAttribute(`tr[data-failure-id="${one.id}"] [data-action=input]`, 'aria-expanded')) === 'true');
  await page.click(`tr[data-failure-id="${one.id}"] [data-action=input]`);
  await page.waitForFunction((id) => !document.querySelector(`tr[data-input-for="${id}"]`), one.id);
  check('... and collapses again', true);

  // Tab order: filters, select-all, each row's checkbox then its controls, then the bulk actions
  await page.locator(`tr[data-failure-id="${ids[0]}"] input[data-select]`).check();
  await page.waitForSelector('[data-action=retry-selected]:not([disabled])');
  await page.focus('[data-filter=flow]');
  const order = [await focusName(page)];
  const expectOrder = ['filter:flow', 'filter:entity', 'filter:runId', 'filter', 'select-all'];
  for (const id of ids) expectOrder.push(`select:${id}`, `open:${id}`, `input:${id}`, `retry:${id}`);
  expectOrder.push('retry-selected', 'retry-all');
  for (let i = 1; i < expectOrder.length; i++) {
    await page.keyboard.press('Tab');
    order.push(await focusName(page));
  }
  check('Tab walks the filters, select-all, each row (checkbox, details, input, retry), then the bulk actions', JSON.stringify(order) === JSON.stringify(expectOrder), `got:      ${order.join(' ')}`, `expected: ${expectOrder.join(' ')}`);
  await page.locator(`tr[data-failure-id="${ids[0]}"] input[data-select]`).uncheck();

  // the filters: the run's failures, then a flow with none
  await page.fill('[data-filter=runId]', process.env.RUN_ID);
  await page.click('[data-action=filter]');
  await page.waitForFunction(() => /3 open failures/.test(document.querySelector('main')?.textContent || ''));
  check('filtered by the run: its three failures', (await page.locator('tr[data-failure-id]').count()) === 3);
  await page.fill('[data-filter=flow]', 'woo_product_to_qbo_item');
  await page.click('[data-action=filter]');
  await page.waitForFunction(() => /No open failures/.test(document.querySelector('main')?.textContent || ''));
  check('filtered by a flow without failures: none', (await page.locator('tr[data-failure-id]').count()) === 0);
  await page.fill('[data-filter=flow]', '');
  await page.fill('[data-filter=runId]', '');
  await page.click('[data-action=filter]');
  await page.waitForFunction(() => document.querySelectorAll('tr[data-failure-id]').length === 3);

  // screenshots of the list
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'failures');

  // retry one: only that record is retried
  await page.click(`tr[data-failure-id="${ids[2]}"] [data-action=retry]`);
  await page.waitForFunction(() => /Queued a retry of 1 record/.test(document.querySelector('main [role=status]')?.textContent || ''));
  check('retry one: the page says one record was queued', true);
  let now = await eventually(async () => {
    const a = await attempts();
    return a[ids[2]] > before[ids[2]] ? a : null;
  });
  check('retry one: the API shows that failure retried (attempts up)', now && now[ids[2]] === before[ids[2]] + 1, JSON.stringify(before), JSON.stringify(now));
  check('... and the other two untouched', now && now[ids[0]] === before[ids[0]] && now[ids[1]] === before[ids[1]], JSON.stringify(now));

  // retry a selection of two
  const mid = now || before;
  await page.locator(`tr[data-failure-id="${ids[0]}"] input[data-select]`).check();
  await page.locator(`tr[data-failure-id="${ids[1]}"] input[data-select]`).check();
  check('the bulk button counts the selection', /\(2\)/.test(await page.locator('[data-action=retry-selected]').innerText()));
  await page.click('[data-action=retry-selected]');
  await page.waitForFunction(() => /Queued a retry of 2 records/.test(document.querySelector('main [role=status]')?.textContent || ''));
  now = await eventually(async () => {
    const a = await attempts();
    return a[ids[0]] > mid[ids[0]] && a[ids[1]] > mid[ids[1]] ? a : null;
  });
  check('retry selected: the API shows the two selected retried', !!now, JSON.stringify(mid));
  check('... and the third untouched', now && now[ids[2]] === mid[ids[2]], JSON.stringify(now));

  // retry all
  const mid2 = now || mid;
  await page.click('[data-action=retry-all]');
  await page.waitForFunction(() => /Queued a retry of 3 records/.test(document.querySelector('main [role=status]')?.textContent || ''));
  now = await eventually(async () => {
    const a = await attempts();
    return ids.every((id) => a[id] > mid2[id]) ? a : null;
  });
  check('retry all: the API shows all three retried', !!now, JSON.stringify(mid2));
  await page.waitForFunction(
    (want) => want.every(([id, n]) => document.querySelector(`tr[data-failure-id="${id}"] [data-field=attempts]`)?.textContent === String(n)),
    Object.entries(now || {}),
    { timeout: 30000 },
  ).then(() => check('... and the page shows the new attempts without a reload', true), (e) => fail('... and the page shows the new attempts without a reload', e));

  // a failure's detail
  const fid = ids[0];
  const detail = await apiGet(`/api/sync/failures/${fid}`);
  await page.click(`tr[data-failure-id="${fid}"] [data-action=open]`);
  await page.waitForSelector('[data-action=test-case]');
  check('detail: the error in full', (await page.locator('pre[data-field=error]').innerText()) === detail.error);
  check('detail: the cause in words', (await page.locator('[data-field=cause]').innerText()).includes(detail.cause));
  check('detail: attempts', (await page.locator('dd[data-field=attempts]').innerText()) === String(detail.attempts));
  check('detail: next retry', (await page.locator('dd[data-field=next-retry]').innerText()).length > 0);
  const input = JSON.parse(await page.locator('details[data-block=input] pre').innerText());
  check("detail: the record's input, pretty JSON", JSON.stringify(input) === JSON.stringify(detail.input));
  await page.click('details[data-block=input] summary');
  check('... collapsible', !(await page.locator('details[data-block=input]').evaluate((d) => d.open)));
  await page.click('details[data-block=input] summary');
  const href = await page.locator('a[data-link=mapping]').getAttribute('href');
  check(`detail: links to the mapping that failed (${href})`, href === `#/mappings/${detail.flow}`);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'failure');

  // turn it into a test case, edit, save
  await page.click('[data-action=test-case]');
  await page.waitForSelector('textarea[data-field=expect]');
  const draftName = await page.inputValue('input[data-field=case-name]');
  check(`the draft is shown in place with its case name (${draftName})`, draftName === `failure-${detail.sourceId}`);
  const caseName = `refused-line-total-${detail.sourceId}`;
  await page.fill('input[data-field=case-name]', 'bad name!');
  await page.click('[data-action=save-test-case]');
  await page.waitForSelector('#tc-name-err:not(:empty)');
  check('a case name the API would refuse is caught on its field', (await page.getAttribute('input[data-field=case-name]', 'aria-invalid')) === 'true');
  await page.fill('input[data-field=case-name]', caseName);
  await page.selectOption('select[data-field=expect-kind]', 'expected_error');
  await page.fill('textarea[data-field=expect]', '$.line_items[0].total');
  await page.click('[data-action=save-test-case]');
  await page.waitForSelector('[data-link=mapping-tests]');
  check('saved: the page says where the case lives', (await page.locator('.draft').innerText()).includes(`mappings/tests/${detail.flow}/${caseName}.json`));
  const tests = await apiGet(`/api/mappings/${detail.flow}/tests`);
  const saved = (tests.items || []).find((t) => t.case === caseName);
  check('the API lists the saved case among the mapping tests', !!saved, JSON.stringify((tests.items || []).map((t) => t.case)));
  writeFileSync(process.env.OUT, JSON.stringify({ mapping: detail.flow, case: caseName, failure: fid }));

  // the order fixed at its source, then retried from its page: it goes through
  const seed = JSON.parse(readFileSync(process.env.BAD_ORDERS, 'utf8'));
  const fixed = seed.records.find((o) => String(o.id) === String(detail.sourceId));
  fixed.line_items[0].total = '6.00';
  const seeded = await fetch(`${process.env.WOO}/_mock/seed`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ entity: 'orders', records: [fixed] }) });
  check('the order is fixed at the store (the mock)', seeded.ok);
  await page.click('[data-action=retry]');
  await page.waitForSelector('[data-resolved]', { timeout: 60000 }).then(
    () => check('retried from its page, the record goes through: the page says resolved', true),
    (e) => fail('retried from its page, the record goes through: the page says resolved', e),
  );
  const after = await apiGet(`/api/sync/failures/${fid}`);
  check('... and the API shows the failure resolved', !!after.resolvedAt, JSON.stringify(after).slice(0, 300));
  check('... and no longer lists it as open', !(await apiGet('/api/sync/failures?limit=100')).items.some((f) => f.id === fid));

  check('desktop: no horizontal scroll', (await horizontalOverflow(page)) === 0);
  await checkNoSecrets(page, SECRETS, 'failures (admin)');
  // (the login page's first GET /api/session answers 401 before signing in: not an error)
  const errors = page.errors.filter((e) => !/status of 401/.test(e));
  check('no script error on the page', errors.length === 0, ...errors);
  await page.context().close();

  // a phone
  const phone = await newPage(browser, PHONE);
  await login(phone);
  await go(phone, '#/failures');
  await phone.waitForSelector('tr[data-failure-id]');
  await screenshot(phone, 'failures');
  check('390 px: the list does not scroll sideways', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await go(phone, `#/failures/${ids[1]}`);
  await phone.waitForSelector('[data-action=test-case]');
  await screenshot(phone, 'failure');
  check('390 px: a failure does not scroll sideways', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await phone.click('[data-action=test-case]');
  await phone.waitForSelector('textarea[data-field=expect]');
  check('390 px: nor with its draft test case open', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await phone.context().close();

  // a tenant token: sees its failure and the draft, and why it cannot save
  const tp = await newPage(browser, DESKTOP);
  await login(tp, process.env.TENANT_TOKEN);
  await go(tp, `#/failures/${ids[1]}`);
  await tp.waitForSelector('[data-action=test-case]');
  await tp.click('[data-action=test-case]');
  await tp.waitForSelector('textarea[data-field=expect]');
  check('tenant: the draft is shown', true);
  check('tenant: save is disabled', await tp.locator('[data-action=save-test-case]').isDisabled());
  const why = await tp.locator('[data-admin-only]').innerText().catch(() => '');
  check('tenant: the page says only the administrator can save, and why', /only the administrator/i.test(why), why);
  await checkNoSecrets(tp, SECRETS, 'failures (tenant)');
  await tp.context().close();

  // another tenant's token: none of these failures, not even by id
  const op = await newPage(browser, DESKTOP);
  await login(op, process.env.OTHER_TOKEN);
  await go(op, '#/failures');
  await op.waitForFunction(() => /No open failures/.test(document.querySelector('main')?.textContent || ''));
  check("another tenant's list: no open failures (none of default's rows)", (await op.locator('tr[data-failure-id]').count()) === 0);
  await go(op, `#/failures/${ids[1]}`);
  await op.waitForSelector('main [role=alert]');
  check("... and default's failure by id: not found", /No such failure/.test(await op.locator('main [role=alert]').innerText()));
  await op.context().close();
});
