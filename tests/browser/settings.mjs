// tests/browser/settings.mjs - the Settings page (run by settings.sh): transformer_config's form
// (defaults as the API fills them, the tenant's values, the API's message on a bad field, a good
// save read back), schedules created (and refused) and deleted, a webhook event filtered and
// replayed; schedules paused and resumed; screenshots, 390 px, no secret in the page.
import { run, newPage, login, go, screenshot, horizontalOverflow, checkNoSecrets, check, DESKTOP, PHONE, ENGINE_URL, ADMIN_TOKEN } from './lib/harness.mjs';

const E = process.env;
const SECRETS = (E.SECRETS || '').split('\n').filter(Boolean);

async function apiGet(path) {
  const r = await fetch(`${ENGINE_URL}${path}`, { headers: { Authorization: `Bearer ${ADMIN_TOKEN}` } });
  return r.json();
}

function shown(v) {
  if (v === null) return 'automatic (null)';
  if (Array.isArray(v)) return 'none ([])';
  if (typeof v === 'object') return 'none ({})';
  return String(v);
}

run(async (browser) => {
  const page = await newPage(browser, DESKTOP);
  page.on('dialog', (d) => d.accept());
  await login(page);
  await go(page, '#/settings');
  await page.waitForSelector('[data-action=save-settings]');

  // the defaults the page shows are the ones the API fills in for a tenant without settings
  const defaults = JSON.parse(E.DEFAULTS);
  const pageDefaults = await page.$$eval('[data-default-for]', (xs) => Object.fromEntries(xs.map((x) => [x.dataset.defaultFor, x.textContent])));
  check('every setting the API knows has a field', Object.keys(defaults).every((k) => k in pageDefaults), Object.keys(defaults).filter((k) => !(k in pageDefaults)).join(', '));
  for (const [k, v] of Object.entries(defaults)) {
    check(`${k}: the default shown is the API's (${shown(v)})`, pageDefaults[k] === `Default: ${shown(v)}.`, pageDefaults[k]);
  }
  check("the tenant's stored values are in their fields", (await page.inputValue('[data-field=shipping_item_id]')) === 'SHIPPING_ITEM_ID' && (await page.inputValue('[data-field=income_account_id]')) === '79');
  check('a field left at its default is empty, its default as the hint', (await page.inputValue('[data-field=default_payment_terms_days]')) === '' && /30/.test(await page.getAttribute('[data-field=default_payment_terms_days]', 'placeholder')));
  check('every control is labelled', await page.$$eval('#s-config form input, #s-config form select', (xs) => xs.every((x) => (x.labels && x.labels.length > 0) || x.getAttribute('aria-label'))));

  // a bad value: the API's message on the field
  await page.fill('[data-field=default_payment_terms_days]', '-5');
  await page.click('[data-action=save-settings]');
  await page.waitForSelector('[data-error-for=default_payment_terms_days]:not(:empty)');
  const msg = await page.locator('[data-error-for=default_payment_terms_days]').innerText();
  check(`a negative payment term shows the API's message on its field (${msg})`, msg === E.BAD_MSG);
  check('... the field is marked invalid and focused', (await page.getAttribute('[data-field=default_payment_terms_days]', 'aria-invalid')) === 'true' && (await page.evaluate(() => document.activeElement?.dataset.field)) === 'default_payment_terms_days');
  check('... and nothing was stored', !('default_payment_terms_days' in ((await apiGet('/api/settings/transformer_config')).value || {})));
  await page.fill('[data-field=default_payment_terms_days]', 'two weeks');
  await page.click('[data-action=save-settings]');
  await page.waitForFunction(() => /integer/.test(document.querySelector('[data-error-for=default_payment_terms_days]')?.textContent || ''));
  check('text in a number field: the API says it must be an integer, on the field', true);

  // a good save, read back
  await page.fill('[data-field=default_payment_terms_days]', '14');
  await page.selectOption('select[data-field=paid_orders_as]', 'SalesReceipt');
  await page.click('[data-field=custom_field_mappings] button:has-text("Add")');
  await page.fill('[data-field=custom_field_mappings] [data-pair=key]', 'customer_note');
  await page.fill('[data-field=custom_field_mappings] [data-pair=value]', 'Note');
  await page.click('[data-field=tax_code_mappings] button:has-text("Add")');
  await page.fill('[data-field=tax_code_mappings] [data-pair=key]', 'standard');
  await page.fill('[data-field=tax_code_mappings] [data-pair=value]', '7');
  await page.click('[data-action=save-settings]');
  await page.waitForFunction(() => /Saved/.test(document.querySelector('#s-config [role=status]')?.textContent || ''));
  const v = (await apiGet('/api/settings/transformer_config')).value;
  check('saved: the API holds the values entered', v.default_payment_terms_days === 14 && v.paid_orders_as === 'SalesReceipt' && v.custom_field_mappings?.[0]?.target_field === 'Note' && v.tax_code_mappings?.standard === '7', JSON.stringify(v));
  await page.reload();
  await page.waitForSelector('[data-action=save-settings]');
  check('... and the page reads them back after a reload', (await page.inputValue('[data-field=default_payment_terms_days]')) === '14' && (await page.inputValue('select[data-field=paid_orders_as]')) === 'SalesReceipt' && (await page.inputValue('[data-field=custom_field_mappings] [data-pair=value]')) === 'Note');

  // schedules: a refused one, a good one, delete
  await page.fill('#sch-entity', 'orders');
  await page.click('[data-action=create-schedule]');
  await page.waitForSelector('#sch-intervalSeconds-err:not(:empty)');
  check('a schedule without interval or cron: the API says so on the field', /exactly one of intervalSeconds and cron/.test(await page.locator('#sch-intervalSeconds-err').innerText()));
  await page.fill('#sch-intervalSeconds', '3600');
  await page.click('[data-action=create-schedule]');
  await page.waitForSelector('tr[data-schedule-id]');
  const sched = (await apiGet('/api/sync/schedules')).items;
  check('a schedule created from the page is in the API', sched.length === 1 && sched[0].intervalSeconds === 3600 && sched[0].entity === 'orders' && sched[0].enabled === true, JSON.stringify(sched));
  check('... and listed with its id', (await page.getAttribute('tr[data-schedule-id]', 'data-schedule-id')) === String(sched[0]?.id));

  // webhook events: listed, filtered, replayed
  await page.waitForSelector(`tr[data-event-id="${E.EVENT}"]`);
  check('the webhook event is listed, processed', /processed/.test(await page.locator(`tr[data-event-id="${E.EVENT}"] [data-field=status]`).innerText()));
  await page.selectOption('#ev-status', 'failed');
  await page.click('[data-action=filter-events]');
  await page.waitForFunction((id) => !document.querySelector(`tr[data-event-id="${id}"]`), E.EVENT);
  check('filtered on failed: not listed', true);
  await page.selectOption('#ev-status', 'processed');
  await page.selectOption('#ev-source', 'woocommerce');
  await page.click('[data-action=filter-events]');
  await page.waitForSelector(`tr[data-event-id="${E.EVENT}"]`);
  check('filtered on processed + woocommerce: listed', true);
  await page.evaluate(() => window.scrollTo(0, 0));
  await screenshot(page, 'settings');
  await page.click(`tr[data-event-id="${E.EVENT}"] [data-action=replay]`);
  await page.waitForSelector(`[data-replayed="${E.EVENT}"]`);
  check('replayed: the page says so', /replayed/.test(await page.locator(`[data-replayed="${E.EVENT}"]`).innerText()));
  const ev = (await apiGet('/api/webhooks/events')).events.find((x) => String(x.id) === E.EVENT);
  check('... and the API counts the replay', ev?.replayCount === 1, JSON.stringify(ev));
  // (the replay queues the event again, so it may leave the processed filter for a moment)
  await page.selectOption('#ev-status', '');
  await page.click('[data-action=filter-events]');
  await page.waitForFunction((id) => document.querySelector(`tr[data-event-id="${id}"] [data-field=replay-count]`)?.textContent === '1', E.EVENT);
  check('... and so does the list', true);

  // pause and resume it
  await page.click(`tr[data-schedule-id="${sched[0].id}"] [data-action=pause-schedule]`);
  await page.waitForSelector(`tr[data-schedule-id="${sched[0].id}"] [data-action=resume-schedule]`);
  check('paused from the page: the list says paused', /paused/.test(await page.locator(`tr[data-schedule-id="${sched[0].id}"]`).innerText()));
  check('... and the API holds it paused', (await apiGet('/api/sync/schedules')).items[0]?.enabled === false);
  await page.click(`tr[data-schedule-id="${sched[0].id}"] [data-action=resume-schedule]`);
  await page.waitForSelector(`tr[data-schedule-id="${sched[0].id}"] [data-action=pause-schedule]`);
  const resumed = (await apiGet('/api/sync/schedules')).items[0];
  check('resumed from the page: the API holds it enabled, due about an hour from now', resumed?.enabled === true && Math.abs(Date.parse(resumed.nextRunAt) - Date.now() - 3600e3) < 120e3, JSON.stringify(resumed));
  check('... and the focus stays on the schedule’s button', (await page.evaluate(() => document.activeElement?.dataset.action)) === 'pause-schedule');

  // delete the schedule
  await page.click('[data-action=delete-schedule]');
  await page.waitForFunction(() => !document.querySelector('tr[data-schedule-id]'));
  check('a schedule deleted from the page leaves the API', (await apiGet('/api/sync/schedules')).items.length === 0);

  check('desktop: no horizontal scroll', (await horizontalOverflow(page)) === 0);
  await checkNoSecrets(page, SECRETS, 'settings');
  const errors = page.errors.filter((e) => !/status of (401|422)/.test(e)); // the login probe, the refused values
  check('no script error on the page', errors.length === 0, ...errors);

  const phone = await newPage(browser, PHONE);
  await login(phone);
  await go(phone, '#/settings');
  await phone.waitForSelector(`tr[data-event-id="${E.EVENT}"]`);
  await screenshot(phone, 'settings');
  check('390 px: no horizontal scroll', (await horizontalOverflow(phone)) === 0, await horizontalOverflow(phone));
  await phone.context().close();
});
