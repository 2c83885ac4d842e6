// pages/mappings/tests.js - the mapping's data tests (mappings/tests/NAME/*.json) run on the
// edited text from the page: per case pass or fail, with each differing field.
import { api } from '../../api.js';
import { h, mount, errorBox, pill } from '../../ui.js';
import { diffTable, showValue } from './tree.js';
import { engineErrors, gotoButtons } from './common.js';

/** The result of a tests run as a list: summary, then one entry per case (failures first). */
export function testsResult(r) {
  const results = [...(r.results || [])].sort((a, b) => Number(a.ok) - Number(b.ok));
  return h(
    'div',
    { class: 'stack', 'data-tests-result': '' },
    h(
      'p',
      {},
      pill(r.failed > 0 ? `${r.failed} failing` : 'all passing', r.failed > 0 ? 'bad' : 'ok'),
      ' ',
      h('span', { 'data-tests-passed': '' }, String(r.passed)),
      ' passed, ',
      h('span', { 'data-tests-failed': '' }, String(r.failed)),
      ' failed',
    ),
    results.length === 0 ? h('p', { class: 'muted' }, 'This mapping has no test cases yet (a failure can become one: Failures page, “Turn into a test case”).') : null,
    h(
      'ul',
      { class: 'cases' },
      results.map((c) =>
        h(
          'li',
          { 'data-case': c.case, 'data-ok': String(!!c.ok) },
          pill(c.ok ? 'pass' : 'fail', c.ok ? 'ok' : 'bad'),
          ' ',
          h('span', { class: 'mono' }, c.case),
          c.message && !(Array.isArray(c.diff) && c.diff.length) ? h('p', { class: 'mono small' }, c.message) : null,
          !c.ok && Array.isArray(c.diff) && c.diff.length
            ? diffTable(
                c.diff.map((d) => ({ path: d.path, a: d.expected, b: d.actual })),
                { left: 'Expected', right: 'Got' },
              )
            : null,
          !c.ok && !(c.diff && c.diff.length) && (c.expected !== undefined || c.actual !== undefined)
            ? h('p', { class: 'mono small' }, `expected ${showValue(c.expected)}, got ${showValue(c.actual)}`)
            : null,
        ),
      ),
    ),
  );
}

/** testsPanel(ctx) -> element; ctx: {name, path, getText(), markErrors(), onResult(text, r)}. */
export function testsPanel(ctx) {
  const out = h('div', { 'data-pane': 'tests', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Runs every test case of this mapping on the text in the editor (unsaved).'));
  const run = async () => {
    button.disabled = true;
    const text = ctx.getText();
    mount(out, h('p', { class: 'muted', role: 'status' }, 'Running the tests…'));
    try {
      const r = await api('POST', `/api/mappings/${encodeURIComponent(ctx.name)}/tests/run`, { source: text });
      mount(out, h('p', { class: 'sr-only', role: 'status' }, `${r.passed} passed, ${r.failed} failed`), testsResult(r));
      ctx.onResult(text, r);
    } catch (err) {
      const errs = err.code === 'load_error' ? engineErrors(err.details, ctx.path) : [];
      if (err.code === 'load_error') ctx.markErrors(errs);
      mount(out, errorBox(err, 'The tests did not run'), gotoButtons(errs, ctx.goTo));
    } finally {
      button.disabled = false;
    }
  };
  const button = h('button', { type: 'button', 'data-action': 'run-tests', onclick: run }, 'Run the tests');
  return h('section', { class: 'card stack', 'aria-labelledby': 'tests-h' }, h('h2', { id: 'tests-h' }, 'Data tests'), h('div', { class: 'row' }, button), out);
}
