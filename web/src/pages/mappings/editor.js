// pages/mappings/editor.js - the mapping's Lua in CodeMirror 6: Lua highlighting (the legacy
// stream mode), line numbers, and the engine's load or preview errors as lint diagnostics on the
// line it names. Tab indents; Escape then Tab leaves the editor (CodeMirror's own escape hatch for
// keyboard users, said on the page). Styles come from CSS variables, so light and dark both read.
import { EditorView, basicSetup } from 'codemirror';
import { EditorState } from '@codemirror/state';
import { keymap } from '@codemirror/view';
import { indentWithTab } from '@codemirror/commands';
import { StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { lua } from '@codemirror/legacy-modes/mode/lua';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { classHighlighter } from '@lezer/highlight';

const theme = EditorView.theme({
  '&': { backgroundColor: 'var(--code-bg)', color: 'var(--fg)', fontSize: '0.9rem', border: '1px solid var(--line)', borderRadius: '6px' },
  '&.cm-focused': { outline: '3px solid var(--focus)', outlineOffset: '2px' },
  '.cm-content': { fontFamily: "ui-monospace, 'DejaVu Sans Mono', Menlo, monospace", caretColor: 'var(--fg)' },
  '.cm-gutters': { backgroundColor: 'var(--card)', color: 'var(--muted)', borderRight: '1px solid var(--line)' },
  '.cm-activeLine': { backgroundColor: 'transparent' },
  '.cm-activeLineGutter': { backgroundColor: 'var(--code-bg)' },
  '.cm-cursor': { borderLeftColor: 'var(--fg)' },
  '.cm-scroller': { overflow: 'auto' },
});

/** The diagnostics for an engine error {message, line} (line 1-based in this document). */
function diagnosticsFor(state, errs) {
  const out = [];
  for (const e of errs) {
    if (!e || !e.line) continue;
    const n = Math.min(Math.max(1, Number(e.line) || 1), state.doc.lines);
    const line = state.doc.line(n);
    out.push({ from: line.from, to: Math.max(line.from, line.to), severity: 'error', message: e.message || 'error', source: e.source || 'tallysync' });
  }
  return out;
}

/**
 * createEditor(parent, text, {onChange, label}) -> {view, getText, setText, markErrors, focus}
 * markErrors([{line, message, source}]) puts an error marker on each line (none clears them).
 */
export function createEditor(parent, text, opts = {}) {
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: text,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        StreamLanguage.define(lua),
        syntaxHighlighting(classHighlighter),
        lintGutter(),
        theme,
        EditorView.contentAttributes.of({ 'aria-label': opts.label || 'Mapping source (Lua)', 'aria-describedby': opts.describedBy || '' }),
        EditorView.updateListener.of((u) => {
          if (u.docChanged && opts.onChange) opts.onChange(u.state.doc.toString());
        }),
      ],
    }),
  });
  const api = {
    view,
    getText: () => view.state.doc.toString(),
    setText: (s) => {
      view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: String(s) } });
    },
    markErrors: (errs) => {
      view.dispatch(setDiagnostics(view.state, diagnosticsFor(view.state, errs || [])));
    },
    focus: () => view.focus(),
    /** Put the cursor at the start of line n (1-based), scrolled into view, and focus. */
    goTo: (n) => {
      const ln = view.state.doc.line(Math.min(Math.max(1, Number(n) || 1), view.state.doc.lines));
      view.dispatch({ selection: { anchor: ln.from }, effects: EditorView.scrollIntoView(ln.from, { y: 'center' }) });
      view.focus();
    },
    destroy: () => view.destroy(),
  };
  return api;
}
