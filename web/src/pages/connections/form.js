// pages/connections/form.js - a connector's credentials form, built from its declared fields
// (GET /api/integrations/{platform}/fields): one control per field by type (url, string,
// integer, boolean, datetime, an enum as a select), labelled, with the field's description.
// Secrets are write-only: a saved secret's input stays empty and says "saved, enter a new value
// to replace"; the stored value (and even its mask) never reaches the page. Saving POSTs the
// whole set (the API replaces every stored value), and a 422 is shown on the field it names.
import { api } from '../../api.js';
import { h, mount, errorBox } from '../../ui.js';

const SAVED = 'saved, enter a new value to replace';

function isMask(v) {
  return typeof v === 'string' && /^\*+$/.test(v);
}

export function credentialsForm(platform, spec, st, { onSaved }) {
  const stored = (st.configured && st.fields) || {};
  const controls = new Map(); // name -> {input, err, field}
  const alertBox = h('div');
  const idp = `cred-${platform}-`;

  const rows = spec.fields.map((f) => {
    const id = idp + f.name;
    const helpId = `${id}-help`;
    const errId = `${id}-err`;
    const has = Object.prototype.hasOwnProperty.call(stored, f.name);
    let input;
    const common = { id, name: f.name, 'data-field': f.name, 'aria-describedby': `${helpId} ${errId}` };
    if (f.enum || f.type === 'boolean') {
      const opts = f.enum || ['true', 'false'];
      const cur = has ? String(stored[f.name]) : f.default !== undefined ? String(f.default) : '';
      input = h(
        'select',
        common,
        f.required && cur !== '' ? null : h('option', { value: '' }, f.default !== undefined ? `(default: ${f.default})` : '(not set)'),
        opts.map((o) => h('option', { value: String(o), selected: has && String(o) === cur }, String(o))),
      );
    } else if (f.secret) {
      input = h('input', {
        ...common,
        type: 'password',
        autocomplete: 'new-password',
        spellcheck: 'false',
        placeholder: has ? SAVED : f.required ? 'required' : 'optional',
        'data-secret': '',
        'data-saved': has ? 'true' : 'false',
      });
    } else {
      input = h('input', {
        ...common,
        type: f.type === 'url' ? 'url' : f.type === 'integer' ? 'number' : 'text',
        inputmode: f.type === 'integer' ? 'numeric' : null,
        autocomplete: 'off',
        spellcheck: 'false',
        placeholder: f.type === 'datetime' ? '2026-01-15T09:30:00Z' : f.default !== undefined ? `default: ${f.default}` : f.required ? 'required' : 'optional',
        value: has && !isMask(stored[f.name]) ? String(stored[f.name]) : '',
      });
    }
    const err = h('p', { id: errId, class: 'field-error', role: 'alert' });
    controls.set(f.name, { input, err, field: f });
    const hint = [f.description, f.patternHint, f.type === 'url' && f.schemes ? `(${f.schemes.join(' or ')})` : null].filter(Boolean).join(' ');
    return h(
      'div',
      { class: 'field' },
      h('label', { for: id }, f.name.replace(/_/g, ' '), f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null, f.secret ? h('span', { class: 'muted small' }, ' (secret, write-only)') : null),
      input,
      h('p', { id: helpId, class: 'muted small' }, has && f.secret ? `${SAVED}. ` : '', hint),
      err,
    );
  });

  const save = h('button', { type: 'submit', class: 'primary', 'data-action': 'save-credentials' }, st.configured ? 'Replace credentials' : 'Save credentials');
  const form = h(
    'form',
    {
      class: 'cred-form',
      novalidate: true,
      autocomplete: 'off',
      'aria-label': `${platform} credentials`,
      onsubmit: async (e) => {
        e.preventDefault();
        mount(alertBox);
        for (const c of controls.values()) {
          c.err.textContent = '';
          c.input.removeAttribute('aria-invalid');
        }
        const body = {};
        for (const [name, c] of controls) {
          const v = c.input.value;
          if (v === '') continue;
          if (c.field.type === 'integer' && /^-?\d+$/.test(v.trim())) body[name] = Number(v.trim());
          else if (c.field.type === 'boolean') body[name] = v === 'true';
          else body[name] = c.field.secret ? v : v.trim();
        }
        save.disabled = true;
        try {
          const answer = await api('POST', `/api/integrations/${encodeURIComponent(platform)}/credentials`, body);
          // the secrets leave the page as soon as they are stored
          for (const c of controls.values()) if (c.field.secret) c.input.value = '';
          await onSaved(answer);
        } catch (err) {
          const field = err?.details && typeof err.details === 'object' ? err.details.field : null;
          const c = field && controls.get(field);
          if (c) {
            c.err.textContent = err.message;
            c.input.setAttribute('aria-invalid', 'true');
            c.input.focus();
          }
          mount(alertBox, errorBox(err, 'The credentials were not saved'));
        } finally {
          save.disabled = false;
        }
      },
    },
    st.configured
      ? h('p', { class: 'muted small' }, 'Saving replaces everything stored for this connection: enter each secret again (a secret left empty is not kept).')
      : null,
    h('div', { class: 'grid cred-grid' }, rows),
    alertBox,
    h('div', { class: 'row' }, save),
  );
  return form;
}
