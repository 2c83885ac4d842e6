// pages/settings/config.js - the tenant's transformer_config (GET/PUT
// /api/settings/transformer_config) as a form. Each field shows its default; a field left at
// "default" is not stored (so a changed default reaches the tenant). What the person typed is
// sent as typed (a number as a number): the API checks it exactly as every mapping run does
// (lib/mapping.lua), and its 422 is shown on the field it names.
import { api } from '../../api.js';
import { h, mount, errorBox, fmtTime } from '../../ui.js';

// The settings lib/mapping.lua knows (CONFIG_FIELDS), with their defaults; the browser test
// checks these defaults against what the API answers for an empty config.
export const FIELDS = [
  { name: 'paid_orders_as', type: 'enum', options: ['Invoice', 'SalesReceipt'], default: 'Invoice', label: 'Paid orders become', help: 'Invoice: every order is an invoice. SalesReceipt: an order WooCommerce has been paid for becomes a sales receipt instead.' },
  { name: 'default_payment_terms_days', type: 'integer', default: 30, label: 'Payment terms (days)', help: 'An invoice’s due date: this many days after the order. A whole number, 0 or more.' },
  { name: 'create_missing_items', type: 'boolean', default: true, label: 'Create missing items', help: 'Create a QuickBooks item for a product (or the Shipping item) it does not have yet; when off, such a line fails the record.' },
  { name: 'shipping_item_id', type: 'string_or_null', default: null, label: 'Shipping item id', help: 'A QuickBooks Item id for shipping lines. Empty (automatic): SHIPPING_ITEM_ID when the company allows shipping, else the item named “Shipping”.' },
  { name: 'income_account_id', type: 'string_or_null', default: null, label: 'Income account id', help: 'The income account of items created for new products. Empty: the chart’s default sales account.' },
  { name: 'refund_account_id', type: 'string_or_null', default: null, label: 'Refund account id', help: 'The account refunds are paid from. Empty: the chart’s default by name.' },
  { name: 'default_tax_code_id', type: 'string_or_null', default: null, label: 'Default tax code id', help: 'The QuickBooks TaxCode of a taxed line whose rate is not mapped below. Empty: “TAX” in a US company, else no code.' },
  { name: 'tax_code_mappings', type: 'pairs', default: {}, label: 'Tax codes by rate', help: 'A WooCommerce tax rate id (or name) and the QuickBooks TaxCode id it becomes.', keyLabel: 'Tax rate', valueLabel: 'TaxCode id' },
  { name: 'custom_field_mappings', type: 'list', default: [], label: 'Custom fields', help: 'Copy an order field into a QuickBooks custom field (at most 3; values cut to 31 characters).', keyLabel: 'source_field', valueLabel: 'target_field' },
];

function showDefault(f) {
  if (f.default === null) return 'automatic (null)';
  if (Array.isArray(f.default)) return 'none ([])';
  if (typeof f.default === 'object') return 'none ({})';
  return String(f.default);
}

/** Rows of two text inputs (key/value), with add and remove buttons; keyboard reachable. */
function pairsEditor(f, initial) {
  const rows = h('div', { class: 'pairs stack' });
  const addRow = (k = '', v = '') => {
    const n = rows.children.length + 1;
    const ki = h('input', { type: 'text', value: k, 'aria-label': `${f.label}: ${f.keyLabel} ${n}`, 'data-pair': 'key', spellcheck: 'false' });
    const vi = h('input', { type: 'text', value: v, 'aria-label': `${f.label}: ${f.valueLabel} ${n}`, 'data-pair': 'value', spellcheck: 'false' });
    const row = h(
      'div',
      { class: 'row pair' },
      ki,
      h('span', { 'aria-hidden': 'true' }, '→'),
      vi,
      h('button', { type: 'button', class: 'ghost', 'aria-label': `Remove ${f.label} row ${n}`, onclick: () => row.remove() }, 'Remove'),
    );
    rows.appendChild(row);
    return ki;
  };
  for (const [k, v] of initial) addRow(k, v);
  const el = h(
    'div',
    { 'data-field': f.name, role: 'group', 'aria-labelledby': `cfg-${f.name}-label` },
    rows,
    h('button', { type: 'button', onclick: () => addRow().focus() }, `Add ${f.type === 'list' ? 'a custom field' : 'a tax rate'}`),
  );
  const read = () => [...rows.children].map((r) => [r.querySelector('[data-pair=key]').value.trim(), r.querySelector('[data-pair=value]').value.trim()]).filter(([k, v]) => k !== '' || v !== '');
  return { el, read, focus: () => (rows.querySelector('input') || el.querySelector('button')).focus() };
}

export function configSection() {
  const alertBox = h('div');
  const status = h('div', { role: 'status', 'aria-live': 'polite', class: 'status-line' });
  const formBox = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const el = h(
    'section',
    { id: 's-config', class: 'card stack', 'aria-labelledby': 's-config-h' },
    h('h2', { id: 's-config-h', tabindex: '-1' }, 'Transformer settings'),
    h('p', { class: 'muted' }, 'What every mapping of this tenant reads as ctx.config (transformer_config). A field left at its default is not stored, so it follows the engine’s default.'),
    alertBox,
    formBox,
    status,
  );

  function draw(r) {
    const value = r.value && typeof r.value === 'object' ? r.value : {};
    const controls = new Map();
    const fieldsEl = FIELDS.map((f) => {
      const id = `cfg-${f.name}`;
      const has = Object.prototype.hasOwnProperty.call(value, f.name) && value[f.name] !== null;
      const v = value[f.name];
      let ctl;
      if (f.type === 'enum' || f.type === 'boolean') {
        const opts = f.type === 'enum' ? f.options : [true, false];
        const input = h(
          'select',
          { id, 'data-field': f.name, 'aria-describedby': `${id}-help ${id}-err` },
          h('option', { value: '' }, `default (${showDefault(f)})`),
          opts.map((o) => h('option', { value: String(o), selected: has && String(v) === String(o) }, String(o))),
        );
        ctl = { el: input, focus: () => input.focus(), read: () => (input.value === '' ? undefined : f.type === 'boolean' ? input.value === 'true' : input.value) };
      } else if (f.type === 'integer' || f.type === 'string_or_null') {
        const input = h('input', {
          id,
          type: 'text',
          inputmode: f.type === 'integer' ? 'numeric' : null,
          'data-field': f.name,
          value: has ? String(v) : '',
          placeholder: `default: ${showDefault(f)}`,
          autocomplete: 'off',
          spellcheck: 'false',
          'aria-describedby': `${id}-help ${id}-err`,
        });
        ctl = {
          el: input,
          focus: () => input.focus(),
          read: () => {
            const t = input.value.trim();
            if (t === '') return undefined;
            if (f.type === 'integer' && /^-?\d+(\.\d+)?$/.test(t)) return Number(t); // else sent as typed: the API names the type
            return t;
          },
        };
      } else {
        const initial = f.type === 'list' ? (Array.isArray(v) ? v.map((m) => [m?.source_field ?? '', m?.target_field ?? '']) : []) : Object.entries(v && typeof v === 'object' ? v : {});
        const ed = pairsEditor(f, initial);
        ctl = {
          el: ed.el,
          focus: ed.focus,
          read: () => {
            const pairs = ed.read();
            if (pairs.length === 0) return undefined;
            return f.type === 'list' ? pairs.map(([s, t]) => ({ source_field: s, target_field: t })) : Object.fromEntries(pairs);
          },
        };
      }
      const err = h('p', { id: `${id}-err`, class: 'field-error', role: 'alert', 'data-error-for': f.name });
      controls.set(f.name, { ...ctl, err });
      return h(
        'div',
        { class: f.type === 'pairs' || f.type === 'list' ? 'field wide' : 'field' },
        h('label', { id: `${id}-label`, for: f.type === 'pairs' || f.type === 'list' ? null : id }, f.label, ' ', h('code', { class: 'muted small' }, f.name)),
        ctl.el,
        h('p', { id: `${id}-help`, class: 'muted small' }, f.help, ' ', h('span', { 'data-default-for': f.name }, `Default: ${showDefault(f)}.`)),
        err,
      );
    });
    // keys the page does not know (a newer engine): kept as they are
    const unknown = Object.keys(value).filter((k) => !FIELDS.some((f) => f.name === k));
    const save = h('button', { type: 'submit', class: 'primary', 'data-action': 'save-settings' }, 'Save settings');
    const form = h(
      'form',
      {
        novalidate: true,
        class: 'settings-form',
        'aria-labelledby': 's-config-h',
        onsubmit: async (e) => {
          e.preventDefault();
          mount(alertBox);
          status.textContent = '';
          const body = {};
          for (const k of unknown) body[k] = value[k];
          for (const [name, c] of controls) {
            c.err.textContent = '';
            c.el.removeAttribute('aria-invalid');
            const x = c.read();
            if (x !== undefined) body[name] = x;
          }
          save.disabled = true;
          try {
            const answer = await api('PUT', '/api/settings/transformer_config', body);
            draw(answer);
            status.textContent = `Saved. Mappings use these settings from their next record on.`;
          } catch (err) {
            const field = err?.details && typeof err.details === 'object' ? err.details.field : null;
            const c = field && controls.get(field);
            if (c) {
              c.err.textContent = err.message;
              c.el.setAttribute('aria-invalid', 'true');
              c.focus();
            }
            mount(alertBox, errorBox(err, 'The settings were not saved'));
          } finally {
            save.disabled = false;
          }
        },
      },
      r.error ? h('div', { class: 'error', role: 'alert' }, h('strong', {}, 'The stored settings are refused: '), r.error) : null,
      h('div', { class: 'grid settings-grid' }, fieldsEl),
      unknown.length ? h('p', { class: 'muted small' }, `Kept as stored (not shown): ${unknown.join(', ')}.`) : null,
      h('div', { class: 'row' }, save, r.updatedAt ? h('span', { class: 'muted small' }, `Last saved ${fmtTime(r.updatedAt)}`) : h('span', { class: 'muted small' }, 'Never saved: every field is at its default.')),
    );
    mount(formBox, form);
  }

  api('GET', '/api/settings/transformer_config')
    .then(draw)
    .catch((err) => mount(formBox, errorBox(err, 'Could not load the settings')));
  return { el };
}
