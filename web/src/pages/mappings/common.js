// pages/mappings/common.js - what the Mappings page's panels share: a test case's settings, and
// the engine's error shapes turned into editor markers for this mapping's file.
import { h } from '../../ui.js';

/** The settings a test case carries (files say `settings`; the API contract says `config`). */
export function caseConfig(c) {
  if (!c) return undefined;
  if (c.settings !== undefined) return c.settings;
  if (c.config !== undefined) return c.config;
  return undefined;
}

/**
 * engineErrors(err, path) -> [{line, message}] for the lines of `path` (mappings/NAME.lua) that
 * an engine error names: {file, line, message} (load_error details), {message, line} (preview:
 * line a number or "mappings/x.lua:42"), or a message starting "mappings/x.lua:42: ...".
 */
export function engineErrors(err, path) {
  if (!err) return [];
  const list = Array.isArray(err) ? err : [err];
  const out = [];
  for (const e of list) {
    if (!e) continue;
    const message = e.message || String(e);
    let file = e.file || null;
    let line = null;
    if (typeof e.line === 'number') line = e.line;
    else if (typeof e.line === 'string') {
      const m = /^(.*):(\d+)$/.exec(e.line);
      if (m) {
        file = m[1];
        line = Number(m[2]);
      } else if (/^\d+$/.test(e.line)) line = Number(e.line);
    }
    if (line === null) {
      const m = /(?:^|\s)((?:\.\/)?mappings\/[^:\s]+\.lua):(\d+):/.exec(message);
      if (m) {
        file = m[1];
        line = Number(m[2]);
      }
    }
    if (line === null) continue;
    if (file && path && !sameFile(file, path)) continue;
    out.push({ line, message });
  }
  return out;
}

function sameFile(a, b) {
  const norm = (s) => String(s).replace(/^\.\//, '').replace(/^@/, '');
  const x = norm(a);
  const y = norm(b);
  return x === y || x.endsWith(`/${y}`) || y.endsWith(`/${x}`);
}

/** "file:line" of a load error, for the list and the banner. */
export function whereOf(e) {
  if (!e) return '';
  if (e.file && e.line) return `${e.file}:${e.line}`;
  return e.file || '';
}

/** Buttons that move the editor to each line an error names in this file (none: null). */
export function gotoButtons(errs, goTo) {
  if (!errs || !errs.length || !goTo) return null;
  return h(
    'p',
    { class: 'row' },
    errs.map((e) => h('button', { type: 'button', class: 'ghost', 'data-action': 'goto-line', 'data-line': String(e.line), onclick: () => goTo(e.line) }, `Show line ${e.line} in the editor`)),
  );
}
