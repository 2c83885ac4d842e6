// pages/runs/list.js - #/runs: start a run (full, incremental, dry), the runs in progress with
// live progress and a stop button, and the history of finished runs with filters (entity,
// state, dry run, flow) paged from GET /api/sync/history.
import { api, qs } from '../../api.js';
import { h, mount, errorBox, fmtTime, fmtAgo, pill, table, poll, toast } from '../../ui.js';
import { ACTIVE, ENTITIES, STATES, progressText, progressBar, statePill, processedOf, totalOf } from './common.js';

const POLL_MS = 2000;
const PAGE = 25;

// the history filters survive leaving the page and coming back (not a secret; memory only)
const filters = { entity: '', state: '', dryRun: '', flow: '', offset: 0 };

/** The published mappings' names (the flows), for the filter and the start form. */
async function flowNames() {
  try {
    const r = await api('GET', '/api/scripts');
    return (r.scripts || [])
      .filter((s) => s.kind === 'mapping' && s.active)
      .map((s) => s.path.replace(/^.*\//, '').replace(/\.lua$/, ''))
      .sort();
  } catch {
    return [];
  }
}

function select(field, label, options, value, onchange) {
  const id = `runs-${field}`;
  const sel = h(
    'select',
    { id, 'data-field': field, onchange },
    options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)),
  );
  return h('div', {}, h('label', { for: id }, label), sel);
}

async function stopRun(run, after) {
  try {
    await api('POST', `/api/sync/${encodeURIComponent(run.syncId)}/stop`);
    toast(`Stop requested for ${run.entity} run; it ends after the current record.`, 'ok');
  } catch (e) {
    toast(`Could not stop the run: ${e.message}`, 'error');
  }
  after();
}

function startForm(app, flows) {
  const msg = h('div', { role: 'status' });
  const entity = h('select', { id: 'runs-start-entity', 'data-field': 'entity' }, ENTITIES.map((x) => h('option', { value: x }, x)));
  const mode = h(
    'select',
    { id: 'runs-start-mode', 'data-field': 'mode' },
    h('option', { value: 'incremental' }, 'incremental (changed since the last run)'),
    h('option', { value: 'full' }, 'full (every record)'),
  );
  const flow = h('select', { id: 'runs-start-flow', 'data-field': 'flow' }, h('option', { value: '' }, 'the entity’s default flow'), flows.map((f) => h('option', { value: f }, f)));
  const dry = h('input', { type: 'checkbox', id: 'runs-dry-run', 'data-field': 'dry-run' });
  const btn = h('button', { type: 'submit', class: 'primary', 'data-action': 'start-run' }, 'Start run');
  const form = h(
    'form',
    {
      class: 'card',
      'aria-labelledby': 'runs-start-h',
      onsubmit: async (e) => {
        e.preventDefault();
        const body = { mode: mode.value, dryRun: dry.checked };
        if (flow.value) body.flow = flow.value;
        btn.disabled = true;
        mount(msg, h('p', { class: 'muted' }, 'Checking both connections…'));
        try {
          const r = await api('POST', `/api/sync/${encodeURIComponent(entity.value)}`, body);
          mount(msg, h('p', {}, `Run queued (${r.syncId}).`));
          app.go('runs', r.syncId);
        } catch (err) {
          const active = err.code === 'already_running' && err.details?.syncId;
          mount(
            msg,
            errorBox(err, 'The run did not start'),
            active ? h('p', {}, h('a', { href: `#/runs/${encodeURIComponent(err.details.syncId)}` }, 'Open the run in progress')) : null,
          );
        } finally {
          btn.disabled = false;
        }
      },
    },
    h('h2', { id: 'runs-start-h', style: 'margin-top:0' }, 'Start a run'),
    h(
      'div',
      { class: 'row form-row' },
      h('div', {}, h('label', { for: 'runs-start-entity' }, 'Entity'), entity),
      h('div', {}, h('label', { for: 'runs-start-mode' }, 'Mode'), mode),
      h('div', {}, h('label', { for: 'runs-start-flow' }, 'Flow (mapping)'), flow),
      h('div', { class: 'check' }, dry, h('label', { for: 'runs-dry-run' }, 'Dry run: write nothing, show what would change')),
      h('div', { class: 'end' }, btn),
    ),
    msg,
  );
  return form;
}

function activeList(runs, refresh) {
  if (!runs.length) return h('p', { class: 'muted' }, 'No run is queued or running.');
  return h(
    'ul',
    { class: 'plain stack' },
    runs.map((r) =>
      h(
        'li',
        { class: 'card', 'data-run-id': r.syncId },
        h(
          'div',
          { class: 'row' },
          h('a', { href: `#/runs/${encodeURIComponent(r.syncId)}` }, `${r.entity} · ${r.flow}`),
          statePill(r.state, { 'data-run-state': '' }),
          pill(r.mode, 'info'),
          r.dryRun ? pill('dry run', 'warn') : null,
          h('span', { class: 'mono', 'data-run-progress': '' }, progressText(processedOf(r), totalOf(r))),
          h('span', { class: 'muted small' }, `started ${fmtAgo(r.startedAt || r.createdAt)}`),
          r.cancelRequested
            ? pill('stopping', 'warn')
            : h('button', { type: 'button', class: 'danger', 'data-action': 'stop-run', onclick: () => stopRun(r, refresh) }, 'Stop'),
        ),
        progressBar(processedOf(r), totalOf(r), `Progress of the ${r.entity} run`),
      ),
    ),
  );
}

function historyTable(items) {
  return table(
    [
      { label: 'Finished', cell: (r) => h('a', { href: `#/runs/${encodeURIComponent(r.syncId)}`, title: r.syncId }, fmtTime(r.finishedAt)) },
      { label: 'State', cell: (r) => statePill(r.state) },
      { label: 'Entity', cell: (r) => r.entity },
      { label: 'Flow', cell: (r) => h('span', { class: 'mono small' }, r.flow) },
      { label: 'Mode', cell: (r) => [r.mode, r.dryRun ? ' ' : null, r.dryRun ? pill('dry run', 'warn') : null] },
      { label: 'Read', class: 'num', cell: (r) => r.counts?.read ?? 0 },
      { label: 'Created', class: 'num', cell: (r) => r.counts?.created ?? 0 },
      { label: 'Updated', class: 'num', cell: (r) => r.counts?.updated ?? 0 },
      { label: 'Failed', class: 'num', cell: (r) => r.counts?.failed ?? 0 },
    ],
    items,
    { class: 'stack-sm', caption: 'Finished runs, newest first', empty: 'No finished run matches these filters.', rowAttrs: (r) => ({ 'data-run-id': r.syncId }) },
  );
}

export async function renderList(root, app) {
  const flows = await flowNames();
  const activeBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const histBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const histMsg = h('div', {});
  const pager = h('div', { class: 'row' });
  const onFilter = (key) => (e) => {
    filters[key] = e.target.value;
    filters.offset = 0;
    loadHistory().catch(showHistErr);
  };
  const filterForm = h(
    'form',
    { class: 'row filters', 'aria-label': 'History filters', onsubmit: (e) => e.preventDefault() },
    select('filter-entity', 'Entity', [['', 'any'], ...ENTITIES.map((x) => [x, x])], filters.entity, onFilter('entity')),
    select('filter-state', 'State', [['', 'any'], ...STATES.map((x) => [x, x])], filters.state, onFilter('state')),
    select('filter-dry-run', 'Dry run', [['', 'any'], ['true', 'dry runs only'], ['false', 'real runs only']], filters.dryRun, onFilter('dryRun')),
    select('filter-flow', 'Flow', [['', 'any'], ...flows.map((f) => [f, f])], filters.flow, onFilter('flow')),
  );
  mount(
    root,
    h('h1', {}, 'Runs'),
    startForm(app, flows),
    h('section', { 'aria-labelledby': 'runs-active-h' }, h('h2', { id: 'runs-active-h' }, 'In progress'), activeBox),
    h('section', { 'aria-labelledby': 'runs-hist-h' }, h('h2', { id: 'runs-hist-h' }, 'History'), filterForm, histMsg, histBox, pager),
  );

  let activeKey = '';
  const loadActive = async () => {
    // the newest runs of the tenant; the active ones are among them (one per flow at most)
    const r = await api('GET', `/api/sync/status${qs({ limit: 50 })}`);
    const act = (r.items || []).filter((x) => ACTIVE.has(x.state));
    const key = JSON.stringify(act.map((x) => [x.syncId, x.state, x.counts, x.cancelRequested]));
    if (key !== activeKey) {
      const hadActive = activeKey !== '' && activeKey !== '[]';
      activeKey = key;
      mount(activeBox, activeList(act, () => loadActive().catch(() => {})));
      if (hadActive) loadHistory().catch(showHistErr); // one finished: it joins the history
    }
  };
  const showHistErr = (e) => mount(histMsg, errorBox(e, 'Could not load the history'));
  let histSeq = 0; // a quicker later answer is not overwritten by an earlier slow one
  const loadHistory = async () => {
    const n = ++histSeq;
    const q = { limit: PAGE, offset: filters.offset, entity: filters.entity, state: filters.state, flow: filters.flow, dryRun: filters.dryRun };
    const r = await api('GET', `/api/sync/history${qs(q)}`);
    if (n !== histSeq) return;
    mount(histMsg);
    mount(histBox, historyTable(r.items || []));
    const total = r.total ?? 0;
    const from = total ? filters.offset + 1 : 0;
    const to = Math.min(total, filters.offset + PAGE);
    mount(
      pager,
      h('span', { class: 'muted', role: 'status' }, `${from}–${to} of ${total}`),
      h('button', { type: 'button', disabled: filters.offset === 0, onclick: () => { filters.offset = Math.max(0, filters.offset - PAGE); loadHistory().catch(showHistErr); } }, 'Newer'),
      h('button', { type: 'button', disabled: to >= total, onclick: () => { filters.offset += PAGE; loadHistory().catch(showHistErr); } }, 'Older'),
    );
  };
  const activeErr = (e) => {
    activeKey = 'error'; // the next answer draws the list again
    mount(activeBox, errorBox(e, 'Could not load the runs in progress'));
  };
  await Promise.all([loadActive().catch(activeErr), loadHistory().catch(showHistErr)]);
  return poll(loadActive, POLL_MS, activeErr);
}
