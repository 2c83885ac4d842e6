// pages/runs/detail.js - #/runs/ID: one run. Its state and live progress (polled while it is
// queued or running; stop it from here), counts, reconciliation (money exact, minor units), what
// became of its failures, and what it did to each record, paged from
// GET /api/sync/status/{id}/records: for a dry run, each record's field differences side by side
// (what the target holds now against what the run would write).
import { api, qs } from '../../api.js';
import { h, mount, errorBox, fmtMoney, fmtTime, pill, table, poll, toast } from '../../ui.js';
import { ACTIVE, progressText, progressBar, statePill, processedOf, totalOf, sideBySide } from './common.js';

const POLL_MS = 1500;
const PAGE = 25;
const OUTCOMES = ['created', 'updated', 'unchanged', 'skipped', 'failed', 'conflict'];

function outcomeKind(o) {
  return { created: 'ok', updated: 'info', unchanged: 'info', skipped: 'info', failed: 'bad', conflict: 'warn' }[o] || 'info';
}

function facts(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function countsBox(run) {
  const c = run.counts || {};
  const cells = [
    ['Read', c.read],
    ['Created', c.created],
    ['Updated', c.updated],
    ['Unchanged', c.unchanged],
    ['Skipped', c.skipped],
    ['Failed', c.failed],
  ];
  return h(
    'ul',
    { class: 'counts', 'aria-label': 'Counts' },
    cells.map(([k, v]) => h('li', { 'data-count': k.toLowerCase() }, h('span', { class: 'big' }, String(v ?? 0)), h('span', { class: 'muted small' }, run.dryRun && k === 'Created' ? 'Would create' : run.dryRun && k === 'Updated' ? 'Would update' : k))),
  );
}

function reconciliationBox(run) {
  const r = run.reconciliation || {};
  if (r.sourceTotalMinor === null || r.sourceTotalMinor === undefined) {
    return h('p', { class: 'muted' }, 'No totals were recorded for this run (its mapping has no total, or no record was written).');
  }
  const diff = r.differenceMinor ?? 0;
  return h(
    'div',
    { 'data-reconciliation': '' },
    facts([
      ['Source total', h('span', { class: 'mono', 'data-field': 'source-total' }, fmtMoney(r.sourceTotalMinor, r.currency))],
      ['Target total', h('span', { class: 'mono', 'data-field': 'target-total' }, fmtMoney(r.targetTotalMinor, r.currency))],
      ['Difference', diff === 0 ? pill(fmtMoney(0, r.currency), 'ok') : pill(fmtMoney(diff, r.currency), 'bad')],
      ['Reconciled records', String(r.reconciled ?? 0)],
      ['Mismatched records', String(r.mismatched ?? 0)],
      r.notWritten ? ['Not written (failed or conflict)', `${r.notWritten} (source ${fmtMoney(r.notWrittenSourceMinor, r.currency)})`] : null,
    ]),
    (r.mismatches || []).length
      ? table(
          [
            { label: 'Record', cell: (m) => String(m.sourceId ?? m.source_id ?? '') },
            { label: 'Source', class: 'num', cell: (m) => fmtMoney(m.sourceTotalMinor ?? m.source_total, r.currency) },
            { label: 'Target', class: 'num', cell: (m) => fmtMoney(m.targetTotalMinor ?? m.target_total, r.currency) },
          ],
          r.mismatches.slice(0, 100),
          { caption: 'Mismatches' },
        )
      : null,
  );
}

function failuresBox(run) {
  const f = run.failures || {};
  const summ = run.errorsSummary || [];
  if (!f.failed && !summ.length && !run.error) return h('p', { class: 'muted' }, 'No record failed.');
  return h(
    'div',
    {},
    run.error ? h('div', { class: 'error' }, h('strong', {}, 'The run itself failed'), h('p', {}, run.error)) : null,
    f.summary ? h('p', { 'data-failures-summary': '' }, f.summary) : null,
    summ.length
      ? table(
          [
            { label: 'Code', cell: (e) => h('span', { class: 'mono' }, e.code || '—') },
            { label: 'Records', class: 'num', cell: (e) => e.count ?? 0 },
            { label: 'Example', cell: (e) => e.example || '' },
          ],
          summ,
          { caption: 'Errors by code' },
        )
      : null,
    f.open && !run.dryRun ? h('p', {}, h('a', { href: '#/failures' }, `Open the failures (${f.open} still failing)`)) : null,
  );
}

/** What a record's detail shows: the dry run's side by side, the document, the error. */
function recordDetail(rec) {
  const parts = [];
  if (rec.error) parts.push(h('div', { class: 'error' }, h('strong', {}, rec.code || 'Error'), h('p', {}, rec.error)));
  if ((rec.outcome === 'failed' || rec.outcome === 'conflict') && !rec.dryRun && !rec.resolvedAt) {
    parts.push(h('p', {}, h('a', { href: `#/failures/${encodeURIComponent(rec.id)}`, 'data-link': 'failure' }, 'Open the failure: its cause, retry it, or make it a mapping test case')));
  }
  if (rec.differences && Object.keys(rec.differences).length) {
    parts.push(
      sideBySide(rec.differences, {
        caption: rec.dryRun ? 'What the target holds now, and what this run would write' : 'What the target held, and what the run wrote',
        captionClass: 'small muted',
        nextLabel: rec.dryRun ? 'This run would write' : 'Written',
        nowLabel: rec.dryRun ? 'Target holds now' : 'Target held',
      }),
    );
  } else if (rec.document && rec.outcome === 'created') {
    // nothing in the target yet: every field of the document is new
    parts.push(
      sideBySide(Object.fromEntries(Object.entries(rec.document).map(([k, v]) => [k, { from: undefined, to: v }])), {
        caption: rec.dryRun ? 'The target has no such document yet; this run would create it' : 'Created',
        captionClass: 'small muted',
        nowLabel: 'Target holds now',
        nextLabel: rec.dryRun ? 'This run would write' : 'Written',
      }),
    );
  } else if (rec.document) {
    parts.push(h('details', {}, h('summary', {}, 'The document'), h('pre', {}, JSON.stringify(rec.document, null, 2))));
  }
  if (rec.conflict) parts.push(h('details', {}, h('summary', {}, 'The conflict'), h('pre', {}, JSON.stringify(rec.conflict, null, 2))));
  if (!parts.length) parts.push(h('p', { class: 'muted' }, 'Nothing more was recorded for this record.'));
  return parts;
}

function changedFields(rec) {
  if (!rec.differences) return null;
  const keys = Object.keys(rec.differences);
  if (!keys.length) return null;
  return keys.length <= 3 ? keys.join(', ') : `${keys.slice(0, 3).join(', ')} and ${keys.length - 3} more`;
}

function recordsTable(items, run) {
  const rows = [];
  for (const rec of items) {
    const more = rec.error || rec.document || rec.conflict || (rec.differences && Object.keys(rec.differences).length);
    const detailId = `rec-${rec.id}`;
    const detailRow = h('tr', { id: detailId, class: 'record-detail', hidden: true }, h('td', { colspan: 6 }, recordDetail(rec)));
    const toggle = h(
      'button',
      {
        type: 'button',
        class: 'ghost small',
        'aria-expanded': 'false',
        'aria-controls': detailId,
        'data-action': 'record-detail',
        onclick: () => {
          const open = toggle.getAttribute('aria-expanded') !== 'true';
          toggle.setAttribute('aria-expanded', String(open));
          detailRow.hidden = !open;
          toggle.textContent = open ? 'Hide' : rec.dryRun && rec.differences ? 'Compare' : 'Details';
        },
      },
      rec.dryRun && rec.differences ? 'Compare' : 'Details',
    );
    rows.push(
      h(
        'tr',
        { 'data-record-id': String(rec.id), 'data-source-id': rec.source?.id ?? '' },
        h('td', { 'data-label': 'Record' }, h('span', { class: 'mono' }, `${rec.source?.entity ?? ''} ${rec.source?.id ?? ''}`)),
        h('td', { 'data-label': 'Outcome' }, pill(rec.outcome, outcomeKind(rec.outcome)), rec.resolvedAt ? [' ', pill('resolved', 'ok')] : null),
        h('td', { 'data-label': 'Target' }, h('span', { class: 'mono small' }, rec.target?.id ? `${rec.target.entity} ${rec.target.id}` : '—')),
        h('td', { 'data-label': 'Changes' }, changedFields(rec) || (rec.error ? h('span', { class: 'small' }, rec.code || 'error') : '—')),
        h('td', { 'data-label': 'Source total', class: 'num' }, rec.sourceTotalMinor != null ? fmtMoney(rec.sourceTotalMinor, rec.currency) : '—'),
        h('td', {}, more ? toggle : null),
      ),
      more ? detailRow : null,
    );
  }
  const t = h(
    'table',
    { class: 'records stack-sm' },
    h('caption', { class: 'sr-only' }, `Records of the run ${run.syncId}`),
    h('thead', {}, h('tr', {}, ['Record', 'Outcome', 'Target', 'Changes', 'Source total', ''].map((x) => h('th', { scope: 'col', class: x === 'Source total' ? 'num' : null }, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: 6, class: 'muted' }, 'No record matches.'))),
  );
  return h('div', { class: 'table-wrap' }, t);
}

export async function renderDetail(root, id) {
  const title = h('h1', {}, 'Run');
  const head = h('div', { class: 'run-head' });
  const err = h('div', {});
  const countsEl = h('div', {});
  const reconEl = h('div', {});
  const failEl = h('div', {});
  const recMsg = h('div', {});
  const recBox = h('div', {});
  const pager = h('div', { class: 'row' });
  const rec = { outcome: '', offset: 0 };
  const outcomeSel = h(
    'select',
    {
      id: 'run-outcome',
      'data-field': 'outcome',
      onchange: () => {
        rec.outcome = outcomeSel.value;
        rec.offset = 0;
        loadRecords().catch(recErr);
      },
    },
    h('option', { value: '' }, 'any'),
    h('option', { value: 'created,updated' }, 'created or updated'),
    OUTCOMES.map((o) => h('option', { value: o }, o)),
  );
  mount(
    root,
    h('p', {}, h('a', { href: '#/runs' }, '← All runs')),
    title,
    err,
    head,
    h('div', { class: 'grid' }, h('section', { class: 'card', 'aria-labelledby': 'run-counts-h' }, h('h2', { id: 'run-counts-h', style: 'margin-top:0' }, 'Counts'), countsEl), h('section', { class: 'card', 'aria-labelledby': 'run-recon-h' }, h('h2', { id: 'run-recon-h', style: 'margin-top:0' }, 'Reconciliation'), reconEl), h('section', { class: 'card', 'aria-labelledby': 'run-fail-h' }, h('h2', { id: 'run-fail-h', style: 'margin-top:0' }, 'Failures'), failEl)),
    h(
      'section',
      { 'aria-labelledby': 'run-rec-h' },
      h('h2', { id: 'run-rec-h' }, 'Records'),
      h('div', { class: 'row' }, h('label', { for: 'run-outcome' }, 'Outcome'), outcomeSel),
      recMsg,
      recBox,
      pager,
    ),
  );

  let run = null;
  let lastKey = '';
  const recErr = (e) => mount(recMsg, errorBox(e, 'Could not load the records'));
  let recSeq = 0; // only the answer to the latest request is shown
  const loadRecords = async () => {
    const n = ++recSeq;
    const r = await api('GET', `/api/sync/status/${encodeURIComponent(id)}/records${qs({ limit: PAGE, offset: rec.offset, outcome: rec.outcome })}`);
    if (n !== recSeq) return;
    mount(recMsg);
    mount(recBox, recordsTable(r.items || [], run || { syncId: id }));
    const total = r.total ?? 0;
    const from = total ? rec.offset + 1 : 0;
    const to = Math.min(total, rec.offset + PAGE);
    mount(
      pager,
      h('span', { class: 'muted', role: 'status', 'data-records-total': String(total) }, `${from}–${to} of ${total} records`),
      h('button', { type: 'button', disabled: rec.offset === 0, onclick: () => { rec.offset = Math.max(0, rec.offset - PAGE); loadRecords().catch(recErr); } }, 'Previous'),
      h('button', { type: 'button', disabled: to >= total, onclick: () => { rec.offset += PAGE; loadRecords().catch(recErr); } }, 'Next'),
    );
  };

  const renderHead = () => {
    const active = ACTIVE.has(run.state);
    mount(
      head,
      h(
        'div',
        { class: 'card stack', 'data-run-id': run.syncId },
        h(
          'div',
          { class: 'row' },
          statePill(run.state, { 'data-run-state': '' }),
          pill(run.mode, 'info'),
          run.dryRun ? pill('dry run: nothing written', 'warn') : null,
          h('span', { class: 'mono', 'data-run-progress': '' }, progressText(processedOf(run), totalOf(run))),
          active && !run.cancelRequested
            ? h(
                'button',
                {
                  type: 'button',
                  class: 'danger',
                  'data-action': 'stop-run',
                  onclick: async (e) => {
                    e.target.disabled = true;
                    try {
                      await api('POST', `/api/sync/${encodeURIComponent(run.syncId)}/stop`);
                      toast('Stop requested: the run ends after the current record.', 'ok');
                    } catch (x) {
                      mount(err, errorBox(x, 'Could not stop the run'));
                    }
                    tick().catch(onErr);
                  },
                },
                'Stop run',
              )
            : null,
          active && run.cancelRequested ? pill('stopping…', 'warn') : null,
        ),
        progressBar(processedOf(run), totalOf(run), 'Progress of this run'),
        facts([
          ['Run', h('span', { class: 'mono small' }, run.syncId)],
          ['Entity', run.entity],
          ['Flow', h('a', { href: `#/mappings/${encodeURIComponent(run.flow)}` }, run.flow)],
          ['Started', fmtTime(run.startedAt || run.createdAt)],
          ['Finished', fmtTime(run.finishedAt)],
          ['Origin', `${run.origin || '—'}${run.requestedBy ? ` (${run.requestedBy})` : ''}`],
          run.cursorFrom || run.cursorTo ? ['Cursor', `${run.cursorFrom || 'start'} → ${run.cursorTo || '…'}`] : null,
        ]),
      ),
    );
  };

  const tick = async () => {
    run = await api('GET', `/api/sync/status/${encodeURIComponent(id)}`);
    mount(err);
    const key = JSON.stringify([run.state, run.counts, run.cancelRequested, run.failures, run.reconciliation]);
    if (key === lastKey) return;
    const wasActive = lastKey !== '' && ACTIVE.has(JSON.parse(lastKey)[0]);
    lastKey = key;
    document.title = `Run ${run.entity} · ${run.state} · tallysync`;
    title.textContent = `${run.dryRun ? 'Dry run' : 'Run'} of ${run.entity}`;
    renderHead();
    mount(countsEl, countsBox(run));
    mount(reconEl, reconciliationBox(run));
    mount(failEl, failuresBox(run));
    // records: refreshed while active only on the first page (the reader's place stays), and
    // once more when the run ends
    if (wasActive && !ACTIVE.has(run.state)) {
      if (run.dryRun && rec.outcome === '' && rec.offset === 0) {
        rec.outcome = 'created,updated'; // what the dry run would change, as when opened later
        outcomeSel.value = rec.outcome;
      }
      await loadRecords();
    }
    else if (ACTIVE.has(run.state) && rec.offset === 0 && !recBox.querySelector('[aria-expanded=true]')) await loadRecords();
  };
  const onErr = (e) => mount(err, errorBox(e, e.status === 404 ? 'No such run' : 'Could not load the run'));
  try {
    await tick();
    if (run.dryRun && !ACTIVE.has(run.state)) {
      // a finished dry run is read for what it would change
      rec.outcome = 'created,updated';
      outcomeSel.value = rec.outcome;
    }
    await loadRecords();
  } catch (e) {
    onErr(e);
    if (e.status === 404) return null;
  }
  return poll(
    async () => {
      if (run && !ACTIVE.has(run.state)) return; // over: nothing moves any more
      await tick();
    },
    POLL_MS,
    onErr,
  );
}
