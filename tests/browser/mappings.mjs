// tests/browser/mappings.mjs - the Mappings page, driven as a person would (see mappings.sh for
// the set-up): FLOW's real published text, edited in the page and never published.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run, newPage, login, go, screenshot, horizontalOverflow, checkNoSecrets, check, fail, DESKTOP, PHONE } from './lib/harness.mjs';

const FLOW = process.env.FLOW;
const EXPECT_CHANGED = Number(process.env.EXPECT_CHANGED);
const MAPPINGS_DIR = process.env.MAPPINGS_DIR;
const SECRETS = (process.env.SECRETS || '').split('\n').filter(Boolean);
const NOTE = 'Reviewed in the console. ';

/** FLOW's text with one edit: the invoice's PrivateNote gets a prefix (written on its own line). */
function edit(text) {
  const old = '  map = function(order, ctx) return woo.build(NAME, order, ctx, "Invoice") end,';
  if (!text.includes(old)) throw new Error(`the edit's anchor is not in ${FLOW}.lua: ${old}`);
  const edited = text.replace(
    old,
    ['  map = function(order, ctx)', '    local invoice = woo.build(NAME, order, ctx, "Invoice")', `    invoice.PrivateNote = "${NOTE}" .. invoice.PrivateNote`, '    return invoice', '  end,'].join('\n'),
  );
  const line = edited.split('\n').findIndex((l) => l.includes('invoice.PrivateNote = ')) + 1;
  return { edited, line };
}

const jsErrors = (page) => page.errors.filter((e) => !/Failed to load resource/.test(e));

async function editorText(page) {
  return page.evaluate(() => window.__tallysyncEditor.getText());
}
async function setEditor(page, text) {
  await page.evaluate((t) => window.__tallysyncEditor.setText(t), text);
}
async function openMapping(page, name) {
  await go(page, `#/mappings/${name}`);
  await page.waitForSelector('.cm-editor .cm-content');
  await page.waitForFunction(() => window.__tallysyncEditor && window.__tallysyncEditor.getText().length > 0);
}
async function checkImpact(page) {
  await page.click('[data-action=impact]');
  await page.waitForSelector('[data-pane=impact] [data-impact-changed], [data-pane=impact] .error', { timeout: 120000 });
}

run(async (browser) => {
  const published = readFileSync(path.join(MAPPINGS_DIR, `${FLOW}.lua`), 'utf8');
  const { edited, line } = edit(published);
  writeFileSync(process.env.OUT, edited);

  // ---- the list, as the administrator
  const page = await newPage(browser, DESKTOP);
  await login(page);
  await go(page, '#/mappings');
  await page.waitForSelector('tr[data-mapping="zz_broken"]');
  const broken = page.locator('tr[data-mapping="zz_broken"]');
  check('the list shows the broken mapping as rejected', (await broken.getAttribute('data-status')) === 'rejected');
  const brokenText = await broken.innerText();
  check('... with the file and line of its load error (zz_broken.lua:7)', /zz_broken\.lua:7\b/.test(brokenText), brokenText);
  check(`the list shows ${FLOW} loaded`, (await page.locator(`tr[data-mapping="${FLOW}"]`).getAttribute('data-status')) === 'loaded');
  await screenshot(page, 'mappings-list');

  // ---- the broken one in the editor: Lua highlighting and the error marker on line 7
  await page.click('tr[data-mapping="zz_broken"] a[data-link=mapping]');
  await page.waitForSelector('.cm-editor .cm-content');
  check('the editor is CodeMirror with Lua keywords highlighted', (await page.locator('.cm-editor .cm-line .tok-keyword').count()) >= 3);
  check('... and comments', (await page.locator('.cm-editor .cm-line .tok-comment').count()) >= 1);
  await page.waitForSelector('.cm-editor .cm-lintRange-error');
  const markedLine = await page.evaluate(() => document.querySelector('.cm-lintRange-error').closest('.cm-line').textContent);
  const line7 = readFileSync(path.join(MAPPINGS_DIR, 'zz_broken.lua'), 'utf8').split('\n')[6];
  check('the load error is marked on line 7, the line the engine names', markedLine === line7, `marked: ${markedLine}`, `line 7: ${line7}`);
  check('... with a marker in the gutter', (await page.locator('.cm-editor .cm-lint-marker-error').count()) === 1);
  const banner = await page.locator('[data-load-error]').innerText();
  check('the page says the version does not load, naming file and line', /zz_broken\.lua:7\b/.test(banner), banner);

  // ---- FLOW: a preview of a text that does not load marks the line the engine names
  await openMapping(page, FLOW);
  check('the editor holds the published text', (await editorText(page)) === published);
  const badLine = 'local broken = = 1';
  const bad = published.replace('local NAME = ', `${badLine}\nlocal NAME = `);
  const badN = bad.split('\n').indexOf(badLine) + 1;
  await setEditor(page, bad);
  await page.waitForSelector('#sample option[value="rec:0"]', { state: 'attached' });
  await page.selectOption('#sample', 'rec:0');
  await page.click('[data-action=preview]');
  await page.waitForSelector(`[data-pane=preview] [data-action=goto-line][data-line="${badN}"]`);
  check('a preview of a text that does not load says so', /does not load/.test(await page.locator('[data-pane=preview]').innerText()));
  await page.click(`[data-pane=preview] [data-action=goto-line][data-line="${badN}"]`);
  await page.waitForSelector('.cm-editor .cm-lintRange-error');
  const badMarked = await page.evaluate(() => document.querySelector('.cm-lintRange-error').closest('.cm-line').textContent);
  check(`... and marks line ${badN} in the editor (the button goes there)`, badMarked === badLine, badMarked);
  check('... with the cursor on it', await page.evaluate(() => !!document.activeElement.closest('.cm-editor')));

  // ---- FLOW: an unsaved edit previewed on a real record
  await setEditor(page, edited);
  check('the page says the edit is unsaved', /Unsaved edits/.test(await page.locator('[data-draft]').innerText()));
  await page.click('[data-action=preview]');
  const noteRow = page.locator('[data-pane=preview] [data-path="$.PrivateNote"]');
  await noteRow.waitFor();
  check('the preview of the unsaved text on a real record shows the changed field', (await noteRow.innerText()).includes(NOTE.trim()), await noteRow.innerText());
  await noteRow.focus();
  const origin = await page.locator('[data-pane=origin]').innerText();
  check(`focusing the field names the line that wrote it (${FLOW}.lua:${line})`, origin.includes(`${FLOW}.lua:${line}`), origin);
  check('... and so does its tooltip', ((await noteRow.getAttribute('title')) || '').includes(`${FLOW}.lua:${line}`));
  const amount = page.locator('[data-pane=preview] [data-path="$.Line[0].Amount"]');
  check('the document holds the invoice lines', (await amount.count()) === 1);

  // ---- the data tests from the page
  await page.click('[data-action=run-tests]');
  await page.waitForSelector('[data-pane=tests] [data-tests-failed]', { timeout: 120000 });
  const failedN = Number(await page.locator('[data-pane=tests] [data-tests-failed]').innerText());
  check('the tests run from the page fail on the edit (the expected PrivateNote changed)', failedN > 0, `failed: ${failedN}`);
  check('... a failing case shows the PrivateNote difference', (await page.locator('[data-pane=tests] li[data-ok=false] tr[data-diff-path="$.PrivateNote"]').count()) > 0);

  // ---- impact over the real snapshots
  await checkImpact(page);
  const changed = await page.locator('[data-impact-changed]').innerText();
  check(`the impact names exactly ${EXPECT_CHANGED} changed documents (every record the published mapping maps)`, Number(changed) === EXPECT_CHANGED, `shown: ${changed}`);
  const answer = page.apiBodies.filter((b) => b.url.endsWith(`/api/mappings/${FLOW}/impact`)).pop();
  check('... the number the engine answered', answer && JSON.parse(answer.body).records.changed === Number(changed));
  const diffRow = page.locator('[data-impact-item] tr[data-diff-path="$.PrivateNote"]').first();
  await diffRow.waitFor();
  const cur = await diffRow.locator('td[data-side=left]').innerText();
  const prop = await diffRow.locator('td[data-side=right]').innerText();
  check('the field diff shows the current PrivateNote next to the proposed one', !cur.includes(NOTE.trim()) && prop.includes(NOTE.trim()) && prop.includes(cur.replace(/^"|"$/g, '')), cur, prop);
  const publish = page.locator('[data-action=publish]');
  check('publish is disabled while a test fails', await publish.isDisabled());
  const reason = await page.locator('[data-publish-reason]').innerText();
  check('... and the page says why', /refused while a test fails/.test(reason), reason);
  await page.evaluate(() => document.getElementById('impact-h').scrollIntoView({ block: 'start' }));
  await screenshot(page, 'mappings');

  // ---- keyboard: Tab indents in the editor; Escape then Tab leaves it
  await page.click('.cm-editor .cm-content');
  await page.keyboard.press('Tab');
  check('Tab inside the editor stays in the editor', await page.evaluate(() => !!document.activeElement.closest('.cm-editor')));
  await page.keyboard.press('Escape');
  await page.keyboard.press('Tab');
  check('Escape then Tab leaves the editor', await page.evaluate(() => !document.activeElement.closest('.cm-editor')));
  check('the page says how to leave the editor', /Escape, then Tab/.test(await page.locator('#editor-help').innerText()));
  await checkNoSecrets(page, SECRETS, 'mappings (admin)');
  check('no script error on the page', jsErrors(page).length === 0, ...jsErrors(page));
  await page.context().close();

  // ---- at a phone's width
  const phone = await newPage(browser, PHONE);
  await login(phone);
  await go(phone, '#/mappings');
  await phone.waitForSelector('tr[data-mapping]');
  check('390 px: the list does not scroll sideways', (await horizontalOverflow(phone)) === 0);
  await screenshot(phone, 'mappings-list');
  await openMapping(phone, FLOW);
  await setEditor(phone, edited);
  await checkImpact(phone);
  await phone.locator('[data-impact-item]').first().waitFor();
  check('390 px: the impact view does not scroll sideways', (await horizontalOverflow(phone)) === 0, `overflow ${await horizontalOverflow(phone)} px`);
  await phone.evaluate(() => document.querySelector('[data-pane=impact]').scrollIntoView({ block: 'start' }));
  await screenshot(phone, 'mappings');
  await phone.context().close();

  // ---- a tenant: preview and impact, no publish
  const tenant = await newPage(browser, DESKTOP);
  await login(tenant, process.env.TENANT_TOKEN);
  await openMapping(tenant, FLOW);
  await setEditor(tenant, edited);
  await tenant.waitForSelector('#sample optgroup[label="Test cases"] option', { state: 'attached' });
  await tenant.selectOption('#sample', { label: 'order-727' });
  await tenant.click('[data-action=preview]');
  await tenant.waitForSelector('[data-pane=preview] .jt-row, [data-pane=preview] .error');
  check('a tenant can preview the edit', (await tenant.locator('[data-pane=preview] .jt-row').count()) > 0);
  await checkImpact(tenant);
  check('a tenant can check its impact', (await tenant.locator('[data-impact-changed]').count()) === 1);
  check('a tenant is not offered publish', await tenant.locator('[data-action=publish]').isDisabled());
  const why = await tenant.locator('[data-publish-reason]').innerText();
  check('... and the page says only the administrator publishes', /Only the administrator publishes/.test(why), why);
  await checkNoSecrets(tenant, SECRETS, 'mappings (tenant)');
  if (jsErrors(tenant).length) fail('no script error on the tenant page', ...jsErrors(tenant));
  await tenant.context().close();

  // ---- a version conflict: someone publishes OTHER while the page edits it
  const other = process.env.OTHER;
  const admin = await newPage(browser, DESKTOP);
  await login(admin);
  await openMapping(admin, other);
  const base = await editorText(admin);
  const auth = { Authorization: `Bearer ${process.env.ADMIN_TOKEN}`, 'Content-Type': 'application/json' };
  const now = await (await fetch(`${process.env.ENGINE_URL}/api/mappings/${other}/source`, { headers: auth })).json();
  const theirs = `${base}\n-- published elsewhere meanwhile\n`;
  const put = await fetch(`${process.env.ENGINE_URL}/api/mappings/${other}/source`, { method: 'PUT', headers: auth, body: JSON.stringify({ source: theirs, baseVersion: now.version }) });
  check(`someone else publishes ${other} meanwhile (API: 200)`, put.status === 200, await put.text());
  await setEditor(admin, `${base}\n-- my edit\n`);
  await checkImpact(admin);
  const pub = admin.locator('[data-action=publish]');
  check('a comment-only edit may be published (every test passes)', !(await pub.isDisabled()), await admin.locator('[data-publish-reason]').innerText());
  await pub.click();
  await admin.waitForSelector('[data-pane=publish] [data-action=reload]');
  check('publishing over a newer version is refused readably', /Someone published this mapping after you opened it/.test(await admin.locator('[data-pane=publish]').innerText()));
  await admin.click('[data-pane=publish] [data-action=reload]');
  await admin.waitForFunction((t) => window.__tallysyncEditor.getText() === t, theirs);
  check('... and "Load the published version" brings their text into the editor', (await editorText(admin)) === theirs);
  await admin.context().close();
});
