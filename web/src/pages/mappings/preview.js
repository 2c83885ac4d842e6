// pages/mappings/preview.js - the preview pane: the edited (unsaved) text run on one sample
// record - a test case's input, a recent real record of the tenant's (its last source snapshot),
// or a pasted record - with the tenant's settings (or the test case's own), showing the target
// document as a tree whose fields tell where they came from.
import { api } from '../../api.js';
import { h, mount, errorBox, fmtTime } from '../../ui.js';
import { jsonTree, originNote } from './tree.js';
import { caseConfig, engineErrors, gotoButtons } from './common.js';

/**
 * previewPanel(ctx) -> element. ctx: {name, path, getText(), markErrors([...]), cases(),
 * records()} (cases and records: promises of the lists, fetched once by the page).
 */
export function previewPanel(ctx) {
  const select = h('select', { id: 'sample', 'data-field': 'sample' }, h('option', { value: '' }, 'Loading samples…'));
  const pasteBox = h('textarea', {
    id: 'paste-record',
    'data-field': 'record',
    rows: '8',
    spellcheck: 'false',
    placeholder: '{"id": 5001, "currency": "USD", …}',
    'aria-describedby': 'paste-help',
  });
  const pasteWrap = h(
    'div',
    { hidden: true },
    h('label', { for: 'paste-record' }, 'Record (JSON)'),
    pasteBox,
    h('p', { id: 'paste-help', class: 'muted small' }, 'A source record as the connector reads it (for orders: a WooCommerce order object).'),
  );
  const useCaseSettings = h('input', { type: 'checkbox', id: 'case-settings', checked: true });
  const caseSettingsWrap = h('label', { class: 'inline', for: 'case-settings' }, useCaseSettings, ' Use the test case’s own settings (else the tenant’s)');
  const out = h('div', { 'data-pane': 'preview', 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Pick a sample record and press Preview: the text in the editor runs on it, unsaved.'));
  const note = h('aside', { class: 'origin card', 'data-pane': 'origin', 'aria-live': 'polite' }, h('p', { class: 'muted small' }, 'Focus or hover a field of the document to see the rule or the line that wrote it.'));
  const status = h('p', { class: 'muted small', role: 'status' });
  let cases = [];
  let records = [];

  const fill = async () => {
    try {
      [cases, records] = await Promise.all([ctx.cases(), ctx.records()]);
    } catch (err) {
      mount(out, errorBox(err, 'Could not load the sample records'));
    }
    select.replaceChildren();
    if (cases.length) {
      select.appendChild(h('optgroup', { label: 'Test cases' }, cases.map((c, i) => h('option', { value: `case:${i}` }, c.case))));
    }
    if (records.length) {
      select.appendChild(
        h('optgroup', { label: 'Recent records of this tenant' }, records.map((r, i) => h('option', { value: `rec:${i}` }, `${r.sourceId} · ${fmtTime(r.updatedAt)}`))),
      );
    }
    select.appendChild(h('option', { value: 'paste' }, 'Paste a record…'));
    if (!cases.length && !records.length) select.value = 'paste';
    onPick();
  };

  const onPick = () => {
    const v = select.value;
    pasteWrap.hidden = v !== 'paste';
    caseSettingsWrap.hidden = !v.startsWith('case:');
  };
  select.addEventListener('change', onPick);

  const sample = () => {
    const v = select.value;
    if (v.startsWith('case:')) {
      const c = cases[Number(v.slice(5))];
      return { record: c.input, config: useCaseSettings.checked ? caseConfig(c) : undefined, label: `test case ${c.case}` };
    }
    if (v.startsWith('rec:')) {
      const r = records[Number(v.slice(4))];
      return { record: r.record, label: `record ${r.sourceId}` };
    }
    let record;
    try {
      record = JSON.parse(pasteBox.value);
    } catch (e) {
      throw Object.assign(new Error(`The pasted record is not JSON: ${e.message}`), { field: 'record' });
    }
    return { record, label: 'the pasted record' };
  };

  const run = async () => {
    let s;
    try {
      s = sample();
    } catch (err) {
      mount(out, errorBox(err, 'Cannot preview'));
      pasteBox.focus();
      return;
    }
    status.textContent = `Running the edited text on ${s.label}…`;
    button.disabled = true;
    const body = { source: ctx.getText(), record: s.record };
    if (s.config !== undefined) body.config = s.config;
    try {
      const r = await api('POST', `/api/mappings/${encodeURIComponent(ctx.name)}/preview`, body);
      const errs = engineErrors(r.error, ctx.path);
      ctx.markErrors(errs);
      mount(note, h('p', { class: 'muted small' }, 'Focus or hover a field of the document to see the rule or the line that wrote it.'));
      if (r.error) {
        mount(
          out,
          h(
            'div',
            { class: 'error', role: 'alert' },
            h('strong', {}, `The mapping refuses ${s.label}`),
            h('p', { class: 'mono' }, r.error.message),
            r.error.line ? h('p', { class: 'muted small' }, `Line: ${r.error.line}`) : null,
            gotoButtons(errs, ctx.goTo),
          ),
        );
      } else if (r.document === null || r.document === undefined) {
        mount(out, h('p', { class: 'muted' }, `No document: the mapping skips ${s.label}.`));
      } else {
        mount(
          out,
          h('p', { class: 'muted small' }, `Target document for ${s.label} (${(r.fields || []).length} fields traced). Arrow keys move between fields.`),
          jsonTree(r.document, r.fields, (path, f, value) => mount(note, originNote(path, f, value))),
        );
      }
      status.textContent = `Preview of ${s.label} done.`;
    } catch (err) {
      const errs = err.code === 'load_error' ? engineErrors(err.details, ctx.path) : [];
      if (err.code === 'load_error') ctx.markErrors(errs);
      mount(out, errorBox(err, 'The edited text does not load'), gotoButtons(errs, ctx.goTo));
      status.textContent = '';
    } finally {
      button.disabled = false;
    }
  };

  const button = h('button', { type: 'button', class: 'primary', 'data-action': 'preview', onclick: run }, 'Preview');
  fill();
  return h(
    'section',
    { class: 'card stack', 'aria-labelledby': 'preview-h' },
    h('h2', { id: 'preview-h' }, 'Preview'),
    h('div', {}, h('label', { for: 'sample' }, 'Sample record'), select),
    pasteWrap,
    caseSettingsWrap,
    h('div', { class: 'row' }, button, status),
    h('div', { class: 'preview-grid' }, note, out),
  );
}
