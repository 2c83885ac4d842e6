// pages/failures/detail.js - #/failures/ID: one failure (GET /api/sync/failures/{id}): the error,
// its cause in words, attempts, next retry, the record's input (collapsible), the run and the
// mapping it failed in; retry it; and turn it into a mapping test case in one action: the draft
// of POST /api/sync/failures/{id}/test-case shown in place (input and settings as they were,
// the expectation and the case name editable), saved with PUT /api/mappings/{name}/tests/{case}
// (the administrator only: a tenant is told why it cannot save).
import { api } from '../../api.js';
import { h, mount, errorBox, fmtAgo, fmtTime, pill } from '../../ui.js';
import { retry } from './common.js';

const CASE_RE = /^[A-Za-z0-9_.-]{1,64}$/;
// the keys of a case file that say what the mapping should do (scripts/lib/mapping_test.lua)
const EXPECT_KEYS = ['expected', 'expected_error', 'error'];

function pretty(v) {
  return JSON.stringify(v, null, 2);
}

/** A <details> block with pretty JSON: collapsible, open when asked. */
function jsonBlock(title, value, opts = {}) {
  return h(
    'details',
    { class: 'json-block', open: opts.open, 'data-block': opts.name },
    h('summary', {}, title),
    h('pre', { class: 'mono', tabindex: '0', 'aria-label': title }, pretty(value)),
  );
}

export function renderDetail(root, id, app) {
  let alive = true;
  let watch = null; // after a retry: follow the failure until it went through or failed again
  const alertBox = h('div');
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status-line' });
  mount(root, h('h1', {}, `Failure ${id}`), h('p', { class: 'muted' }, 'Loading…'), alertBox);

  async function load() {
    let f;
    try {
      f = await api('GET', `/api/sync/failures/${encodeURIComponent(id)}`);
    } catch (err) {
      if (!alive) return;
      mount(
        root,
        h('h1', {}, `Failure ${id}`),
        errorBox(err, err.status === 404 ? 'No such failure (for this tenant)' : 'Could not load the failure'),
        h('p', {}, h('a', { href: '#/failures' }, 'Back to the failures')),
      );
      return;
    }
    if (!alive) return;
    draw(f);
  }

  function draw(f) {
    const mappingLink = f.flow
      ? h('a', { href: `#/mappings/${encodeURIComponent(f.flow)}`, 'data-link': 'mapping' }, f.flow)
      : h('span', { class: 'muted' }, 'unknown');
    const facts = h(
      'dl',
      { class: 'facts' },
      h('dt', {}, 'Record'),
      h('dd', {}, `${f.entity || '?'} ${f.sourceId ?? ''}`, f.sourceSystem ? h('span', { class: 'muted' }, ` from ${f.sourceSystem}`) : null),
      h('dt', {}, 'Mapping'),
      h('dd', {}, mappingLink),
      h('dt', {}, 'Run'),
      h('dd', {}, f.runId ? h('a', { href: `#/runs/${encodeURIComponent(f.runId)}` }, f.runId) : h('span', { class: 'muted' }, 'outside a run (webhook or retry)')),
      h('dt', {}, 'Outcome'),
      h('dd', {}, f.outcome === 'conflict' ? pill('conflict', 'warn') : pill('failed', 'bad'), f.code ? h('code', { class: 'code-name' }, ` ${f.code}`) : null),
      h('dt', {}, 'Attempts'),
      h('dd', { 'data-field': 'attempts' }, String(f.attempts ?? 0)),
      h('dt', {}, 'Next retry'),
      h(
        'dd',
        { 'data-field': 'next-retry' },
        f.nextRetryAt ? h('span', { title: f.nextRetryAt }, `${fmtTime(f.nextRetryAt)} (${fmtAgo(f.nextRetryAt)})`) : f.retryable === false ? 'not retried by itself: fix the cause, then retry' : '—',
      ),
      h('dt', {}, 'Last seen'),
      h('dd', {}, h('span', { title: f.updatedAt || '' }, fmtTime(f.updatedAt))),
    );
    const draftBox = h('div', { class: 'draft' });
    const retryBtn = h(
      'button',
      {
        type: 'button',
        'data-action': 'retry',
        onclick: async () => {
          mount(alertBox);
          try {
            status.textContent = await retry({ ids: [f.id] });
            follow(f);
          } catch (err) {
            mount(alertBox, errorBox(err, 'The retry was not queued'));
          }
        },
      },
      'Retry this record',
    );
    const tcBtn = h(
      'button',
      {
        type: 'button',
        class: 'primary',
        'data-action': 'test-case',
        onclick: () => openDraft(f, draftBox, tcBtn),
      },
      'Turn into a test case',
    );
    mount(
      root,
      h('p', { class: 'crumbs' }, h('a', { href: '#/failures' }, '← Failures')),
      h('h1', {}, `Failure ${f.id}: ${f.entity || ''} ${f.sourceId ?? ''}`),
      f.resolvedAt
        ? h('p', { class: 'notice resolved', 'data-resolved': '' }, pill('resolved', 'ok'), ` The record went through ${fmtAgo(f.resolvedAt)} (${fmtTime(f.resolvedAt)}): nothing left to do.`)
        : null,
      h(
        'section',
        { class: 'card stack', 'aria-labelledby': 'f-error' },
        h('h2', { id: 'f-error' }, 'What went wrong'),
        h('pre', { class: 'mono error-text', 'data-field': 'error' }, f.error || f.code || 'no message'),
        f.cause ? h('p', { 'data-field': 'cause' }, h('strong', {}, 'Cause: '), f.cause) : null,
        facts,
        h('div', { class: 'row' }, retryBtn, tcBtn),
        status,
        alertBox,
      ),
      f.output !== undefined && f.output !== null
        ? h('section', { class: 'card', 'aria-label': 'The document the mapping made' }, jsonBlock('The document the mapping made (what the target refused)', f.output, { name: 'output' }))
        : null,
      f.conflict ? h('section', { class: 'card', 'aria-label': 'The conflict' }, jsonBlock('The conflict (what the target holds that the record would overwrite)', f.conflict, { name: 'conflict', open: true })) : null,
      h(
        'section',
        { class: 'card', 'aria-label': 'The record’s input' },
        f.input !== undefined && f.input !== null
          ? jsonBlock('The record’s input (as the source sent it)', f.input, { name: 'input', open: true })
          : h('p', { class: 'muted' }, 'The record’s input was not kept.'),
      ),
      draftBox,
    );
  }

  /** Poll the failure after a retry: redraw when it went through (resolvedAt) or failed again. */
  function follow(f0) {
    if (watch) clearInterval(watch);
    const until = Date.now() + 120000;
    watch = setInterval(async () => {
      if (!alive || Date.now() > until) {
        clearInterval(watch);
        watch = null;
        return;
      }
      try {
        const f = await api('GET', `/api/sync/failures/${encodeURIComponent(id)}`);
        if (!alive) return;
        if (f.resolvedAt || f.attempts !== f0.attempts || f.updatedAt !== f0.updatedAt) {
          clearInterval(watch);
          watch = null;
          draw(f);
          const line = root.querySelector('[role=status]');
          if (line) line.textContent = f.resolvedAt ? 'The retry went through.' : 'The retry failed again: see the error above.';
        }
      } catch {
        /* the next tick tries again */
      }
    }, 1500);
  }

  async function openDraft(f, box, btn) {
    btn.disabled = true;
    mount(box, h('p', { class: 'muted' }, 'Making the draft…'));
    let d;
    try {
      d = await api('POST', `/api/sync/failures/${encodeURIComponent(f.id)}/test-case`, {});
    } catch (err) {
      btn.disabled = false;
      mount(box, errorBox(err, 'Could not make a test case from this failure'));
      return;
    }
    if (!alive) return;
    drawDraft(d, box);
    box.querySelector('[data-field=expect]')?.focus();
  }

  function drawDraft(d, box) {
    const body = d.body && typeof d.body === 'object' ? d.body : {};
    const kind0 = EXPECT_KEYS.find((k) => k in body) || 'expected';
    const isAdmin = !!app.session?.admin;
    const nameInput = h('input', {
      id: 'tc-name',
      'data-field': 'case-name',
      value: d.case || `failure-${id}`,
      autocomplete: 'off',
      spellcheck: 'false',
      pattern: '[A-Za-z0-9_.\\-]{1,64}',
      'aria-describedby': 'tc-name-help tc-name-err',
    });
    const nameErr = h('p', { id: 'tc-name-err', class: 'field-error', role: 'alert' });
    const kind = h(
      'select',
      { id: 'tc-kind', 'data-field': 'expect-kind' },
      h('option', { value: 'expected', selected: kind0 === 'expected' }, 'the document it should produce (expected)'),
      h('option', { value: 'expected_error', selected: kind0 !== 'expected' }, 'a refusal whose error contains this text (expected_error)'),
    );
    const v0 = body[kind0];
    const expect = h('textarea', {
      id: 'tc-expect',
      'data-field': 'expect',
      rows: '14',
      spellcheck: 'false',
      'aria-describedby': 'tc-expect-help tc-expect-err',
      value: kind0 === 'expected' ? pretty(v0 ?? {}) : String(v0 ?? ''),
    });
    const expectErr = h('p', { id: 'tc-expect-err', class: 'field-error', role: 'alert' });
    const saveMsg = h('div', { role: 'status', 'aria-live': 'polite' });
    const saveErr = h('div');
    const fixed = Object.entries(body).filter(([k]) => !EXPECT_KEYS.includes(k));
    const save = h(
      'button',
      {
        type: 'submit',
        class: 'primary',
        'data-action': 'save-test-case',
        disabled: !isAdmin,
        'aria-describedby': isAdmin ? null : 'tc-admin-only',
      },
      'Save the test case',
    );
    const form = h(
      'form',
      {
        class: 'card stack',
        novalidate: true,
        'aria-labelledby': 'tc-title',
        onsubmit: async (e) => {
          e.preventDefault();
          mount(saveErr);
          nameErr.textContent = '';
          expectErr.textContent = '';
          nameInput.removeAttribute('aria-invalid');
          expect.removeAttribute('aria-invalid');
          const name = nameInput.value.trim();
          if (!CASE_RE.test(name)) {
            nameErr.textContent = 'A case name is 1 to 64 letters, digits, “_”, “.” or “-”.';
            nameInput.setAttribute('aria-invalid', 'true');
            nameInput.focus();
            return;
          }
          let value;
          if (kind.value === 'expected') {
            try {
              value = JSON.parse(expect.value);
            } catch (err) {
              expectErr.textContent = `The expected document is not JSON: ${err.message}`;
              expect.setAttribute('aria-invalid', 'true');
              expect.focus();
              return;
            }
          } else {
            value = expect.value.trim();
            if (!value) {
              expectErr.textContent = 'Say which text the refusal’s error must contain.';
              expect.setAttribute('aria-invalid', 'true');
              expect.focus();
              return;
            }
          }
          const out = {};
          for (const [k, v] of fixed) out[k] = v;
          out[kind.value] = value;
          save.disabled = true;
          try {
            const path = `/api/mappings/${encodeURIComponent(d.mapping)}/tests/${encodeURIComponent(name)}`;
            await api('PUT', path, out);
            mount(
              saveMsg,
              h(
                'p',
                { class: 'ok-text' },
                `Saved as mappings/tests/${d.mapping}/${name}.json. `,
                h('a', { href: `#/mappings/${encodeURIComponent(d.mapping)}`, 'data-link': 'mapping-tests' }, 'Open the mapping and run its tests'),
              ),
            );
          } catch (err) {
            const field = err?.details && typeof err.details === 'object' ? err.details.field : null;
            if (field === 'case' || field === 'name') {
              nameErr.textContent = err.message;
              nameInput.setAttribute('aria-invalid', 'true');
            } else if (field && EXPECT_KEYS.includes(field)) {
              expectErr.textContent = err.message;
              expect.setAttribute('aria-invalid', 'true');
            }
            mount(saveErr, errorBox(err, err.status === 403 ? 'Only the administrator can save test cases' : 'The test case was not saved'));
          } finally {
            save.disabled = !isAdmin;
          }
        },
      },
      h('h2', { id: 'tc-title' }, `A test case for ${d.mapping}`),
      h('p', { class: 'muted' }, 'The failed record’s input and the settings it ran with, as a data test of the mapping (mappings/tests/). Say what the mapping should do with it, then save: the mapping’s tests and `tallysync test` run it from then on.'),
      h('label', { for: 'tc-name' }, 'Case name'),
      nameInput,
      h('p', { id: 'tc-name-help', class: 'muted small' }, `Saved as mappings/tests/${d.mapping}/NAME.json (letters, digits, “_”, “.”, “-”; an existing case of that name is replaced).`),
      nameErr,
      h('label', { for: 'tc-kind' }, 'The mapping should give'),
      kind,
      h('label', { for: 'tc-expect' }, 'Expected'),
      h('p', { id: 'tc-expect-help', class: 'muted small' }, 'For a document: the JSON the mapping should produce. For a refusal: a piece of the error text.'),
      expect,
      expectErr,
      fixed.map(([k, v]) => jsonBlock(k === 'input' ? 'Input (the failed record)' : k === 'settings' ? 'Settings (the tenant’s transformer_config)' : k, v, { name: `draft-${k}` })),
      isAdmin ? null : h('p', { id: 'tc-admin-only', class: 'notice', 'data-admin-only': '' }, 'Only the administrator can save a test case: test cases are part of the mappings, which tenant tokens may read and preview but not change. Copy the draft or ask the administrator.'),
      h('div', { class: 'row' }, save),
      saveMsg,
      saveErr,
    );
    kind.addEventListener('change', () => {
      // switching keeps what can be kept: a document becomes its JSON text and back
      if (kind.value === 'expected_error' && /^\s*[{[]/.test(expect.value)) expect.value = '';
    });
    mount(box, form);
  }

  load();
  return () => {
    alive = false;
    if (watch) clearInterval(watch);
  };
}
