// pages/settings/schedules.js - the sync schedules (GET/POST /api/sync/schedules, POST
// .../{id}/pause and .../{id}/resume, DELETE .../{id}): runs the engine starts by itself every N
// seconds or on a cron expression (UTC); pause, resume (the next run counted from then), delete.
import { api } from '../../api.js';
import { h, mount, errorBox, fmtTime, fmtAgo, pill, table } from '../../ui.js';

export function schedulesSection() {
  const alertBox = h('div');
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status-line' });
  const listBox = h('div');
  const errs = {};
  const field = (name, label, input, help) => {
    errs[name] = h('p', { id: `sch-${name}-err`, class: 'field-error', role: 'alert' });
    input.id = `sch-${name}`;
    input.setAttribute('aria-describedby', `sch-${name}-help sch-${name}-err`);
    input.dataset.field = name;
    return h('div', { class: 'field' }, h('label', { for: `sch-${name}` }, label), input, h('p', { id: `sch-${name}-help`, class: 'muted small' }, help), errs[name]);
  };
  const entity = h('input', { type: 'text', value: 'orders', autocomplete: 'off', spellcheck: 'false' });
  const flow = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'the entity’s default flow' });
  const mode = h('select', {}, h('option', { value: 'incremental' }, 'incremental'), h('option', { value: 'full' }, 'full'));
  const every = h('input', { type: 'text', inputmode: 'numeric', autocomplete: 'off', placeholder: 'e.g. 900' });
  const cron = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. */15 * * * *' });
  const dry = h('input', { type: 'checkbox', id: 'sch-dryRun', 'data-field': 'dryRun' });
  const enabled = h('input', { type: 'checkbox', id: 'sch-enabled', 'data-field': 'enabled', checked: true });
  const create = h('button', { type: 'submit', class: 'primary', 'data-action': 'create-schedule' }, 'Create schedule');
  const form = h(
    'form',
    {
      class: 'schedule-form',
      novalidate: true,
      'aria-label': 'New schedule',
      onsubmit: async (e) => {
        e.preventDefault();
        mount(alertBox);
        for (const x of Object.values(errs)) x.textContent = '';
        const body = { entity: entity.value.trim(), mode: mode.value, dryRun: dry.checked, enabled: enabled.checked };
        if (flow.value.trim()) body.flow = flow.value.trim();
        const ev = every.value.trim();
        if (ev) body.intervalSeconds = /^\d+$/.test(ev) ? Number(ev) : ev;
        if (cron.value.trim()) body.cron = cron.value.trim();
        create.disabled = true;
        try {
          const s = await api('POST', '/api/sync/schedules', body);
          status.textContent = `Schedule ${s.id} created: next run ${fmtTime(s.nextRunAt)}.`;
          every.value = '';
          cron.value = '';
          await load();
        } catch (err) {
          const f = err?.details && typeof err.details === 'object' ? err.details.field : null;
          if (f && errs[f]) {
            errs[f].textContent = err.message;
            document.getElementById(`sch-${f}`)?.focus();
          }
          mount(alertBox, errorBox(err, 'The schedule was not created'));
        } finally {
          create.disabled = false;
        }
      },
    },
    h(
      'div',
      { class: 'grid' },
      field('entity', 'Entity', entity, 'What to sync: orders, customers, products…'),
      field('flow', 'Flow (mapping)', flow, 'Optional: a mapping name; empty takes the entity’s default flow.'),
      field('mode', 'Mode', mode, 'Incremental reads what changed since the last run; full reads everything.'),
      field('intervalSeconds', 'Every (seconds)', every, 'Either this…'),
      field('cron', 'Or on a cron expression (UTC)', cron, '…or this: minute hour day month weekday.'),
    ),
    h('div', { class: 'row' }, h('label', { class: 'inline', for: 'sch-dryRun' }, dry, ' Dry run (write nothing)'), h('label', { class: 'inline', for: 'sch-enabled' }, enabled, ' Enabled')),
    h('div', { class: 'row' }, create),
  );

  async function del(s) {
    if (!window.confirm(`Delete schedule ${s.id} (${s.entity}, ${s.cron || `every ${s.intervalSeconds} s`})?`)) return;
    mount(alertBox);
    try {
      await api('DELETE', `/api/sync/schedules/${encodeURIComponent(s.id)}`);
      status.textContent = `Schedule ${s.id} deleted.`;
      await load();
    } catch (err) {
      mount(alertBox, errorBox(err, 'The schedule was not deleted'));
    }
  }

  async function toggle(s) {
    mount(alertBox);
    const what = s.enabled ? 'pause' : 'resume';
    try {
      const r = await api('POST', `/api/sync/schedules/${encodeURIComponent(s.id)}/${what}`, {});
      status.textContent = r.enabled ? `Schedule ${r.id} resumed: next run ${fmtTime(r.nextRunAt)}.` : `Schedule ${r.id} paused: it starts no run until resumed.`;
      await load();
      listBox.querySelector(`tr[data-schedule-id="${CSS.escape(String(s.id))}"] [data-action=${r.enabled ? 'pause-schedule' : 'resume-schedule'}]`)?.focus();
    } catch (err) {
      mount(alertBox, errorBox(err, `The schedule was not ${what}d`));
    }
  }

  async function load() {
    const r = await api('GET', '/api/sync/schedules');
    const items = r?.items || [];
    mount(
      listBox,
      table(
        [
          { label: 'Id', cell: (s) => String(s.id) },
          { label: 'Syncs', cell: (s) => h('span', {}, `${s.entity} · ${s.mode}${s.dryRun ? ' · dry run' : ''}`, h('div', { class: 'muted small' }, s.flow || '')) },
          { label: 'When', cell: (s) => (s.cron ? h('code', {}, s.cron) : `every ${s.intervalSeconds} s`) },
          { label: 'State', cell: (s) => (s.enabled ? pill('enabled', 'ok') : pill('paused', 'warn')) },
          { label: 'Next run', cell: (s) => h('span', { title: s.nextRunAt || '' }, s.enabled ? fmtAgo(s.nextRunAt) : '—') },
          { label: 'Last run', cell: (s) => (s.lastRunId ? h('a', { href: `#/runs/${encodeURIComponent(s.lastRunId)}` }, fmtAgo(s.lastRunAt)) : '—') },
          {
            label: 'Actions',
            cell: (s) =>
              h(
                'div',
                { class: 'row' },
                s.enabled
                  ? h('button', { type: 'button', 'data-action': 'pause-schedule', 'aria-label': `Pause schedule ${s.id}`, onclick: () => toggle(s) }, 'Pause')
                  : h('button', { type: 'button', 'data-action': 'resume-schedule', 'aria-label': `Resume schedule ${s.id}`, onclick: () => toggle(s) }, 'Resume'),
                h('button', { type: 'button', class: 'danger', 'data-action': 'delete-schedule', 'aria-label': `Delete schedule ${s.id}`, onclick: () => del(s) }, 'Delete'),
              ),
          },
        ],
        items,
        { caption: 'Schedules', empty: 'No schedule: runs start only when someone starts them.', rowAttrs: (s) => ({ 'data-schedule-id': String(s.id) }) },
      ),
    );
  }

  const el = h(
    'section',
    { id: 's-schedules', class: 'card stack', 'aria-labelledby': 's-schedules-h' },
    h('h2', { id: 's-schedules-h', tabindex: '-1' }, 'Schedules'),
    h('p', { class: 'muted' }, 'Runs the engine starts by itself. A paused schedule starts nothing; resumed, its next run is counted from then (missed runs are not made up).'),
    listBox,
    h('h3', {}, 'New schedule'),
    form,
    status,
    alertBox,
  );
  load().catch((err) => mount(alertBox, errorBox(err, 'Could not load the schedules')));
  return { el };
}
