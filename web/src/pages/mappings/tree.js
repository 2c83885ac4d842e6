// pages/mappings/tree.js - a mapping's output as a JSON tree whose fields tell where they came
// from (dry run --explain's lineage: the rule, or the file:line that wrote them), and the
// compact field-by-field diffs the tests and the impact check show. Everything goes into the DOM
// as text: a document is built from hostile order data.
import { h } from '../../ui.js';

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The 0-based JSONPath of a child: $.Line[0].Amount (other keys as ["odd key"]). */
export function childPath(parent, key) {
  if (typeof key === 'number') return `${parent}[${key}]`;
  return IDENT.test(key) ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

/** A value as the reader should see it: strings as they are, numbers exactly as sent. */
export function showValue(v) {
  if (v === undefined) return '(absent)';
  if (v === null) return 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  const s = JSON.stringify(v);
  return s.length > 200 ? `${s.slice(0, 200)}…` : s;
}

/** One lineage entry in words: {short, lines[]}. */
export function originOf(f) {
  if (!f) return { short: 'No lineage recorded for this field', lines: [] };
  const lines = [];
  let short;
  if (f.by === 'rule') {
    short = `Rule ${f.rule || '?'}`;
    if (f.from) lines.push(`reads ${f.from}`);
    if (f.input !== undefined) lines.push(`input ${showValue(f.input)}`);
  } else if (f.by === 'map') {
    short = `Written at ${f.line || 'an unknown line'}`;
    if (Array.isArray(f.via) && f.via.length) lines.push(`called from ${f.via.join(' < ')}`);
    else if (typeof f.via === 'string' && f.via) lines.push(`called from ${f.via}`);
    if (f.from) lines.push(`reads ${f.from}`);
  } else {
    short = 'Origin unknown';
  }
  if (f.part_of || f.partOf) lines.push(`part of the table made at ${f.part_of || f.partOf}`);
  return { short, lines };
}

/**
 * jsonTree(doc, fields, onFocusField) -> element. Each field with a value is one row,
 * [data-path] and a title naming its origin; Up/Down/Home/End move between rows (one tab stop),
 * and focusing or hovering a row calls onFocusField(path, lineage, value).
 */
export function jsonTree(doc, fields, onFocusField) {
  const byPath = new Map();
  for (const f of fields || []) if (f && f.path) byPath.set(f.path, f);
  const rows = [];

  const leaf = (path, label, value) => {
    const f = byPath.get(path);
    const o = originOf(f);
    const row = h(
      'div',
      {
        class: `jt-row${f ? ` by-${f.by || 'unknown'}` : ''}`,
        'data-path': path,
        tabindex: rows.length === 0 ? '0' : '-1',
        title: `${path}\n${o.short}${o.lines.length ? `\n${o.lines.join('\n')}` : ''}`,
        onfocus: () => onFocusField && onFocusField(path, f, value),
        onmouseenter: () => onFocusField && onFocusField(path, f, value),
      },
      label !== null ? h('span', { class: 'jt-key' }, label) : null,
      label !== null ? ': ' : null,
      h('span', { class: `jt-val jt-${value === null ? 'null' : typeof value}` }, showValue(value)),
    );
    rows.push(row);
    return row;
  };

  const node = (path, label, value) => {
    if (value !== null && typeof value === 'object') {
      const isArr = Array.isArray(value);
      const entries = isArr ? value.map((v, i) => [i, v]) : Object.entries(value);
      const f = byPath.get(path);
      const head = h(
        'div',
        { class: 'jt-head' },
        label !== null ? h('span', { class: 'jt-key' }, label) : null,
        h('span', { class: 'muted' }, `${label !== null ? ': ' : ''}${isArr ? `[${entries.length}]` : `{${entries.length}}`}`),
        f ? h('span', { class: 'muted small' }, ` ${originOf(f).short}`) : null,
      );
      return h(
        'li',
        {},
        head,
        entries.length
          ? h(
              'ul',
              { class: 'jt' },
              entries.map(([k, v]) => {
                const p = childPath(path, k);
                return v !== null && typeof v === 'object' ? node(p, isArr ? `[${k}]` : k, v) : h('li', {}, leaf(p, isArr ? `[${k}]` : k, v));
              }),
            )
          : null,
      );
    }
    return h('li', {}, leaf(path, label, value));
  };

  const tree = h('ul', { class: 'jt jt-root', role: 'group', 'aria-label': 'Target document: use the arrow keys to move between fields' }, node('$', null, doc));
  tree.addEventListener('keydown', (e) => {
    const i = rows.indexOf(document.activeElement);
    if (i < 0) return;
    let j = i;
    if (e.key === 'ArrowDown') j = Math.min(rows.length - 1, i + 1);
    else if (e.key === 'ArrowUp') j = Math.max(0, i - 1);
    else if (e.key === 'Home') j = 0;
    else if (e.key === 'End') j = rows.length - 1;
    else return;
    e.preventDefault();
    rows[i].tabIndex = -1;
    rows[j].tabIndex = 0;
    rows[j].focus();
  });
  return tree;
}

/** The side note for a focused field. */
export function originNote(path, f, value) {
  const o = originOf(f);
  return [
    h('p', { class: 'mono small' }, path),
    h('p', {}, h('strong', {}, o.short)),
    o.lines.map((l) => h('p', { class: 'mono small' }, l)),
    h('p', { class: 'small' }, 'Value: ', h('code', {}, showValue(value))),
  ];
}

/** A string shown whole (quoted, line breaks kept), else the value as JSON. */
function cellText(v) {
  return typeof v === 'string' ? `"${v}"` : showValue(v);
}

/**
 * The two sides of a change with the part that differs marked: the common start and end stay
 * plain, the middle is a <mark> (strings and numbers alike, as text).
 */
function markedPair(a, b) {
  const x = cellText(a);
  const y = cellText(b);
  if (a === undefined || b === undefined || typeof a !== typeof b || (typeof a === 'object' && a !== null)) {
    return [[h('mark', {}, x)], [h('mark', {}, y)]];
  }
  let p = 0;
  while (p < x.length && p < y.length && x[p] === y[p]) p++;
  let s = 0;
  while (s < x.length - p && s < y.length - p && x[x.length - 1 - s] === y[y.length - 1 - s]) s++;
  const side = (t) => [t.slice(0, p), t.length - s > p ? h('mark', {}, t.slice(p, t.length - s)) : null, t.slice(t.length - s)];
  return [side(x), side(y)];
}

/**
 * diffTable(rows, {left, right}) -> a two-column comparison: rows [{path, a, b}], the part that
 * changed marked on each side. Values are shown exactly as the documents hold them (amounts as
 * the JSON numbers sent). At a phone's width each row stacks (CSS: table.field-diff).
 */
export function diffTable(rows, labels) {
  return h(
    'div',
    { class: 'table-wrap' },
    h(
      'table',
      { class: 'field-diff' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, labels.left), h('th', { scope: 'col' }, labels.right))),
      h(
        'tbody',
        {},
        rows.map((r) => {
          const [l, rr] = markedPair(r.a, r.b);
          return h(
            'tr',
            { 'data-diff-path': r.path },
            h('th', { scope: 'row', class: 'mono' }, r.path),
            h('td', { class: 'mono diff-del', 'data-side': 'left', 'data-label': labels.left }, l),
            h('td', { class: 'mono diff-add', 'data-side': 'right', 'data-label': labels.right }, rr),
          );
        }),
      ),
    ),
  );
}
