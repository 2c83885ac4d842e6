// pages/mappings/impact.js - impact before publish: the edited text run over the mapping's tests
// and over the tenant's last N real records (their source snapshots), each changed document shown
// field by field next to what the published version makes of it; then publish (administrator
// only, refused while a test fails, with the base version so a concurrent publish is caught).
import { api } from '../../api.js';
import { h, mount, errorBox, pill, fmtTime } from '../../ui.js';
import { diffTable, jsonTree } from './tree.js';
import { testsResult } from './tests.js';
import { engineErrors, gotoButtons } from './common.js';

const STATUS = {
  changed: ['changed', 'info'],
  now_failing: ['would now fail', 'bad'],
  now_passing: ['would now pass', 'ok'],
  still_failing: ['still fails', 'warn'],
  unchanged: ['unchanged', 'info'],
};

function outcome(side) {
  if (!side) return null;
  if (side.error) return h('p', { class: 'mono small' }, typeof side.error === 'string' ? side.error : side.error.message || JSON.stringify(side.error));
  return null;
}

function docDetails(label, side) {
  if (!side || side.document === undefined || side.document === null) return null;
  return h('details', {}, h('summary', {}, label), jsonTree(side.document, [], null));
}

/** One record whose document would not stay the same. */
function impactItem(it) {
  const [label, kind] = STATUS[it.status] || [it.status, 'info'];
  const diff = Array.isArray(it.diff) ? it.diff : [];
  return h(
    'li',
    { class: 'card stack', 'data-impact-item': String(it.sourceId), 'data-status': it.status },
    h('div', { class: 'row' }, h('strong', {}, `Record ${it.sourceId}`), pill(label, kind), h('span', { class: 'muted small' }, fmtTime(it.updatedAt))),
    it.status === 'now_failing' ? h('div', {}, h('p', { class: 'small' }, 'The proposed text refuses it:'), outcome(it.proposed)) : null,
    it.status === 'now_passing' ? h('div', {}, h('p', { class: 'small' }, 'The published version refuses it:'), outcome(it.current)) : null,
    it.status === 'still_failing'
      ? h('div', {}, h('p', { class: 'small' }, 'Published:'), outcome(it.current), h('p', { class: 'small' }, 'Proposed:'), outcome(it.proposed))
      : null,
    diff.length
      ? diffTable(
          diff.map((d) => ({ path: d.path, a: d.current, b: d.proposed })),
          { left: 'Current (published)', right: 'Proposed (this text)' },
        )
      : null,
    docDetails('The proposed document', it.proposed),
    it.status !== 'now_passing' ? docDetails('The current document', it.current) : null,
  );
}

/** The impact answer: {summary, details} (the changed records, then the tests' results). */
export function impactView(r) {
  const rec = r.records || {};
  const items = rec.items || [];
  const t = r.tests || { passed: 0, failed: 0, results: [] };
  const failing = (t.results || []).filter((c) => !c.ok).map((c) => c.case);
  // which fields change, over all the documents ($.Line[3].Amount counted as $.Line[*].Amount)
  const byField = new Map();
  for (const it of items) {
    const seen = new Set();
    for (const d of it.diff || []) seen.add(String(d.path).replace(/\[\d+\]/g, '[*]'));
    for (const p of seen) byField.set(p, (byField.get(p) || 0) + 1);
  }
  const fields = [...byField.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const summary = h(
    'div',
    { class: 'impact-summary' },
    h('p', { class: 'big-line' }, h('strong', { 'data-impact-changed': '' }, String(rec.changed ?? 0)), ' of ', h('span', { 'data-impact-considered': '' }, String(rec.considered ?? 0)), ' recent documents would change'),
    h(
      'ul',
      { class: 'impact-facts' },
      h('li', {}, pill(`${rec.nowFailing ?? 0} new failures`, rec.nowFailing ? 'bad' : 'ok'), ' records the published version maps and this text would refuse'),
      h('li', {}, pill(`${rec.nowPassing ?? 0} fixed failures`, rec.nowPassing ? 'ok' : 'info'), ' records the published version refuses and this text maps'),
      h('li', {}, pill(`${rec.unchanged ?? 0} unchanged`, 'info'), ' records with the very same document'),
      h(
        'li',
        {},
        pill(t.failed > 0 ? `${t.failed} of ${t.passed + t.failed} tests fail` : `${t.passed} tests pass`, t.failed > 0 ? 'bad' : 'ok'),
        t.failed > 0 ? ` ${failing.slice(0, 3).join(', ')}${failing.length > 3 ? ', …' : ''} (details below)` : ' the mapping’s data tests on this text',
      ),
    ),
    fields.length
      ? h(
          'p',
          { class: 'small', 'data-impact-fields': '' },
          'Fields that change: ',
          fields.slice(0, 8).map(([p, n], i) => [i ? ', ' : '', h('code', {}, p), ` in ${n} ${n === 1 ? 'document' : 'documents'}`]),
          fields.length > 8 ? `, and ${fields.length - 8} more` : '',
        )
      : null,
    rec.considered === 0 ? h('p', { class: 'muted small' }, 'No real records yet for this tenant and flow: the comparison covers the ones a sync has read (their last source snapshots).') : null,
  );
  const details = h(
    'div',
    { class: 'stack' },
    items.length ? h('h3', {}, `Documents that would not stay the same (${items.length})`) : null,
    h('ul', { class: 'impact-items' }, items.map(impactItem)),
    h('details', { class: 'tests-details' }, h('summary', {}, `Test results: ${t.passed} passed, ${t.failed} failed`), testsResult(t)),
  );
  return { summary, details };
}

/**
 * impactPanel(ctx) -> element. ctx: {name, path, admin, getText(), setText(), markErrors(),
 * version() (the published version the edit is based on), published() (its text),
 * onTests(text, r), testsFor(text) (the last tests result for exactly this text, or null),
 * onPublished({version}), reload() (fetch the published text again)}.
 */
export function impactPanel(ctx) {
  const limit = h('input', { id: 'impact-limit', type: 'number', min: '1', max: '1000', inputmode: 'numeric', placeholder: '200', 'data-field': 'limit', 'aria-describedby': 'impact-limit-help' });
  const out = h('div', { 'data-pane': 'impact', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Before publishing, see what this text would change: it runs the tests and remaps the tenant’s recent real records with both versions.'));
  const more = h('div', { 'data-pane': 'impact-details' });
  const pubMsg = h('div', { 'data-pane': 'publish' });
  const reason = h('p', { id: 'publish-reason', class: 'small', 'data-publish-reason': '' });
  let impactText = null; // the text the shown impact was computed for

  const publishBtn = h('button', { type: 'button', class: 'primary', 'data-action': 'publish', 'aria-describedby': 'publish-reason', disabled: true }, 'Publish');

  const update = () => {
    const text = ctx.getText();
    let why = null;
    const t = ctx.testsFor(text);
    if (!ctx.admin) why = 'Only the administrator publishes mappings. As a tenant you can preview the text and check its impact; ask the administrator to publish it.';
    else if (text === ctx.published()) why = 'Nothing to publish: the editor holds the published version.';
    else if (t && t.failed > 0) why = `Publishing is refused while a test fails: ${t.failed} of ${t.passed + t.failed} tests fail on this text. Fix the mapping or the test case first.`;
    else if (impactText !== text) why = 'Check the impact of this text first (it also runs the tests).';
    publishBtn.disabled = !!why;
    reason.textContent = why || `Ready: ${t ? `all ${t.passed} tests pass; ` : ''}publishing writes ${ctx.path} and the engine reloads it.`;
    reason.className = `small ${why ? 'muted' : 'ok-text'}`;
  };

  const check = async () => {
    checkBtn.disabled = true;
    const text = ctx.getText();
    const body = { source: text };
    if (limit.value !== '') body.limit = Number(limit.value);
    mount(out, h('p', { class: 'muted', role: 'status' }, 'Comparing the two versions on the recent records…'));
    mount(more);
    try {
      const r = await api('POST', `/api/mappings/${encodeURIComponent(ctx.name)}/impact`, body);
      impactText = text;
      ctx.onTests(text, r.tests || { passed: 0, failed: 0, results: [] });
      const rec = r.records || {};
      const v = impactView(r);
      mount(out, h('p', { class: 'sr-only', role: 'status' }, `${rec.changed ?? 0} of ${rec.considered ?? 0} recent documents would change`), v.summary);
      mount(more, v.details);
    } catch (err) {
      impactText = null;
      const errs = err.code === 'load_error' ? engineErrors(err.details, ctx.path) : [];
      if (err.code === 'load_error') ctx.markErrors(errs);
      mount(out, errorBox(err, 'The impact check did not run'), gotoButtons(errs, ctx.goTo));
    } finally {
      checkBtn.disabled = false;
      update();
    }
  };

  const publish = async () => {
    publishBtn.disabled = true;
    mount(pubMsg, h('p', { class: 'muted', role: 'status' }, 'Publishing…'));
    const text = ctx.getText();
    try {
      const r = await api('PUT', `/api/mappings/${encodeURIComponent(ctx.name)}/source`, { source: text, baseVersion: ctx.version() });
      await ctx.onPublished(r, text);
      mount(pubMsg, h('p', { class: 'ok-text', role: 'status' }, `Published ${ctx.name} as version ${String(r.version).slice(0, 12)}. New syncs and retries use it.`));
    } catch (err) {
      if (err.code === 'version_conflict') {
        const mine = h('textarea', { readonly: true, rows: '6', 'aria-label': 'Your edited text (to copy)' }, text);
        mount(
          pubMsg,
          h(
            'div',
            { class: 'error', role: 'alert' },
            h('strong', {}, 'Someone published this mapping after you opened it'),
            h('p', {}, 'Your edit is based on an older version, so it was not published (it would silently undo their change). Load the published text, then make your edit again; your text is below to copy.'),
            h('button', { type: 'button', 'data-action': 'reload', onclick: () => ctx.reload() }, 'Load the published version'),
            h('details', {}, h('summary', {}, 'Your edited text'), mine),
          ),
        );
      } else if (err.code === 'tests_failed' && err.details) {
        ctx.onTests(text, err.details);
        mount(pubMsg, errorBox(err, 'Not published: a test fails'), testsResult(err.details));
      } else {
        const errs = err.code === 'load_error' ? engineErrors(err.details, ctx.path) : [];
        if (err.code === 'load_error') ctx.markErrors(errs);
        mount(pubMsg, errorBox(err, 'Not published'), gotoButtons(errs, ctx.goTo));
      }
    } finally {
      update();
    }
  };
  publishBtn.addEventListener('click', publish);

  const checkBtn = h('button', { type: 'button', 'data-action': 'impact', onclick: check }, 'Check the impact');
  update();
  const el = h(
    'section',
    { class: 'card stack', 'aria-labelledby': 'impact-h' },
    h('h2', { id: 'impact-h' }, 'Impact and publish'),
    h(
      'div',
      { class: 'row' },
      h('label', { for: 'impact-limit', class: 'inline' }, 'Recent records'),
      limit,
      checkBtn,
    ),
    h('p', { id: 'impact-limit-help', class: 'muted small' }, 'How many of the tenant’s latest real records to remap (1 to 1000; empty: the engine’s IMPACT_RECORDS, 200 by default).'),
    out,
    h('div', { class: 'row publish-row' }, publishBtn),
    reason,
    pubMsg,
    more,
  );
  return { el, update, forget: () => { impactText = null; mount(pubMsg); update(); } };
}
