// pages/mappings.js - the Mappings page. #/mappings lists every mapping with its load status (a
// rejected version names its file and line); #/mappings/NAME edits one: the Lua in CodeMirror
// with the engine's error markers, a preview of the unsaved text on a sample record with each
// field's origin, the data tests, and impact before publish (what the text would change on the
// tenant's recent real records, field by field) followed by publish (administrator only).
import { api } from '../api.js';
import { h, mount, errorBox, pill, table } from '../ui.js';
import { createEditor } from './mappings/editor.js';
import { previewPanel } from './mappings/preview.js';
import { testsPanel } from './mappings/tests.js';
import { impactPanel } from './mappings/impact.js';
import { engineErrors, whereOf, gotoButtons } from './mappings/common.js';

// Unsaved edits survive leaving the page (a look at a failure, then back): name -> {text, base}.
const drafts = new Map();

function statusPill(m) {
  return m.status === 'rejected' ? pill('rejected', 'bad') : pill(m.status || 'unknown', m.status === 'loaded' ? 'ok' : 'warn');
}

function loadError(e, goTo, path) {
  if (!e) return null;
  return h(
    'div',
    { class: 'error', role: 'alert', 'data-load-error': '' },
    h('strong', {}, 'This version does not load; the engine keeps using the last good one (if any)'),
    h('p', { class: 'mono' }, whereOf(e) ? `${whereOf(e)}: ` : '', e.message),
    goTo ? gotoButtons(engineErrors(e, path), goTo) : null,
  );
}

async function renderList(root) {
  mount(root, h('h1', {}, 'Mappings'), h('p', { class: 'muted' }, 'Loading…'));
  let r;
  try {
    r = await api('GET', '/api/mappings');
  } catch (err) {
    mount(root, h('h1', {}, 'Mappings'), errorBox(err, 'Could not list the mappings'));
    return;
  }
  // the ones that do not load first: they are what needs attention
  const items = [...(r.items || [])].sort((a, b) => Number(b.status === 'rejected') - Number(a.status === 'rejected') || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rejected = items.filter((m) => m.status === 'rejected').length;
  mount(
    root,
    h('h1', {}, 'Mappings'),
    h(
      'p',
      { class: 'muted' },
      `${items.length} mappings turn source records into target documents.`,
      rejected ? ` ${rejected} ${rejected === 1 ? 'does' : 'do'} not load: listed first, with the engine’s error.` : '',
      ' Open one to edit it, preview it on a real record and see what a change would do before it is published.',
    ),
    table(
      [
        { label: 'Mapping', cell: (m) => h('a', { href: `#/mappings/${encodeURIComponent(m.name)}`, 'data-link': 'mapping' }, m.name) },
        { label: 'From → to', cell: (m) => (m.source && m.target ? `${m.source.connector ?? '?'} ${m.source.entity ?? ''} → ${m.target.connector ?? '?'} ${m.target.entity ?? ''}` : '— (not loaded)') },
        {
          label: 'Status',
          cell: (m) => [statusPill(m), m.error ? h('p', { class: 'mono small', 'data-load-error': '' }, whereOf(m.error) ? `${whereOf(m.error)}: ` : '', m.error.message) : null],
        },
        { label: 'Default for', cell: (m) => m.defaultFor || '—' },
        { label: 'Tests', class: 'num', cell: (m) => String(m.tests ?? 0) },
        { label: 'Version', cell: (m) => h('code', { title: m.version || '', class: 'nowrap' }, (m.version || '—').slice(0, 8)) },
      ],
      items,
      { class: 'stack-sm', caption: 'Mappings and their load status', empty: 'No mappings (MAPPINGS_DIR is empty).', rowAttrs: (m) => ({ 'data-mapping': m.name, 'data-status': m.status }) },
    ),
  );
}

async function renderOne(root, name, app) {
  const url = `/api/mappings/${encodeURIComponent(name)}`;
  mount(root, h('h1', {}, name), h('p', { class: 'muted' }, 'Loading…'));
  let src;
  try {
    src = await api('GET', `${url}/source`);
  } catch (err) {
    mount(root, h('h1', {}, name), errorBox(err, 'Could not read this mapping'), h('p', {}, h('a', { href: '#/mappings' }, 'All mappings')));
    return null;
  }
  const admin = !!app.session?.admin;
  const st = {
    version: src.version,
    published: src.source,
    path: src.path || `mappings/${name}.lua`,
    tests: null, // {text, result}: the last tests result and the text it was for
  };
  const draft = drafts.get(name);
  const startText = draft && draft.base === src.version ? draft.text : src.source;

  // the lists the preview offers, fetched once
  let casesP = null;
  let recordsP = null;
  const cases = () => (casesP ??= api('GET', `${url}/tests`).then((r) => r.items || []).catch(() => []));
  const records = () => (recordsP ??= api('GET', `${url}/records?limit=20`).then((r) => r.items || []).catch(() => []));

  const header = h('div', { class: 'stack' });
  const draftNote = h('p', { class: 'small', role: 'status', 'data-draft': '' });
  const editorHost = h('div', { class: 'editor-host', id: 'editor' });
  const editor = createEditor(editorHost, startText, {
    describedBy: 'editor-help',
    onChange: (text) => {
      if (text === st.published) drafts.delete(name);
      else drafts.set(name, { text, base: st.version });
      showDraft();
      impact.update();
    },
  });

  const showHeader = () => {
    mount(
      header,
      h('div', { class: 'row' }, h('a', { href: '#/mappings' }, '← All mappings')),
      h('h1', {}, name),
      h(
        'p',
        { class: 'row' },
        statusPill(src),
        h('span', { class: 'mono small' }, st.path),
        h('span', { class: 'muted small', title: st.version }, `version ${String(st.version).slice(0, 12)}`),
      ),
      loadError(src.error, editor.goTo, st.path),
    );
  };
  const showDraft = () => {
    const edited = editor.getText() !== st.published;
    mount(
      draftNote,
      edited
        ? [
            'Unsaved edits: preview, tests and impact use them; nothing changes until you publish. ',
            h('button', { type: 'button', class: 'ghost', 'data-action': 'discard', onclick: () => editor.setText(st.published) }, 'Discard my edits'),
          ]
        : 'The editor holds the published version.',
    );
  };
  const markErrors = (errs) => editor.markErrors(errs);

  const reload = async () => {
    const fresh = await api('GET', `${url}/source`);
    src = fresh;
    st.version = fresh.version;
    st.published = fresh.source;
    drafts.delete(name);
    editor.setText(fresh.source);
    markErrors(engineErrors(fresh.error, st.path));
    showHeader();
    showDraft();
    impact.forget();
  };

  const ctx = {
    name,
    path: st.path,
    admin,
    getText: () => editor.getText(),
    setText: (s) => editor.setText(s),
    markErrors,
    goTo: (n) => editor.goTo(n),
    cases,
    records,
    version: () => st.version,
    published: () => st.published,
    testsFor: (text) => (st.tests && st.tests.text === text ? st.tests.result : null),
    onTests: (text, result) => {
      st.tests = { text, result };
    },
    onResult: (text, result) => {
      st.tests = { text, result };
      impact.update();
    },
    onPublished: async (r, text) => {
      st.version = r.version;
      st.published = text;
      drafts.delete(name);
      showDraft();
      // the hot reload publishes it: read back its status (and any load error) from the engine
      try {
        src = await api('GET', `${url}/source`);
        st.version = src.version;
        st.published = src.source;
      } catch {
        /* the publish itself succeeded */
      }
      showHeader();
      showDraft();
    },
    reload,
  };
  const impact = impactPanel(ctx);

  showHeader();
  showDraft();
  markErrors(engineErrors(src.error, st.path));
  window.__tallysyncEditor = { getText: editor.getText, setText: editor.setText, focus: editor.focus, goTo: editor.goTo };

  const editorCard = h(
      'section',
      { class: 'card stack', 'aria-labelledby': 'editor-h' },
      h('h2', { id: 'editor-h' }, 'Source'),
      h(
        'p',
        { id: 'editor-help', class: 'muted small' },
        'Lua, as the engine loads it. Keyboard: Tab indents inside the editor; press Escape, then Tab, to leave it. Error markers in the gutter show where the engine stopped: hover them, or press Ctrl-Shift-M for the list of errors (F8 goes to the next one). Ctrl-F searches.',
      ),
      editorHost,
      draftNote,
    );
  mount(
    root,
    header,
    h('div', { class: 'mapping-top' }, editorCard, previewPanel(ctx)),
    testsPanel(ctx),
    impact.el,
  );
  return () => {
    editor.destroy();
    if (window.__tallysyncEditor && window.__tallysyncEditor.getText === editor.getText) delete window.__tallysyncEditor;
  };
}

export default {
  id: 'mappings',
  title: 'Mappings',
  render(root, params, app) {
    if (params && params[0]) return renderOne(root, params[0], app);
    return renderList(root);
  },
};
