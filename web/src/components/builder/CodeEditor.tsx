// The builder's code editor: CodeMirror, Python highlighted for `python_function`. A chunk of its
// own (ConfigForm loads it with the first code field shown).
import { python } from "@codemirror/lang-python";
// The code colours below come from the app's palette, so they keep their contrast in both themes.
import { HighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { tags } from "@lezer/highlight";
import CodeMirror, { EditorView } from "@uiw/react-codemirror";

/** The editor in the page's colours (CSS variables): light and dark follow the theme switch. */
const CODE_THEME = [
  EditorView.theme({
    "&": { backgroundColor: "var(--bg)", color: "var(--fg)" },
    ".cm-content": { caretColor: "var(--fg)" },
    ".cm-cursor, .cm-dropCursor": { borderLeftColor: "var(--fg)" },
    ".cm-gutters": { backgroundColor: "var(--card)", color: "var(--muted)", borderRight: "1px solid var(--border)" },
    "&.cm-focused .cm-selectionBackground, .cm-selectionBackground, ::selection": { backgroundColor: "color-mix(in srgb, var(--accent) 30%, transparent)" },
  }),
  syntaxHighlighting(
    HighlightStyle.define([
      { tag: [tags.keyword, tags.operatorKeyword, tags.controlKeyword, tags.definitionKeyword], color: "var(--accent)", fontWeight: "600" },
      { tag: [tags.string, tags.special(tags.string)], color: "var(--ok)" },
      { tag: [tags.number, tags.bool, tags.null], color: "var(--run)" },
      { tag: [tags.comment, tags.lineComment], color: "var(--muted)", fontStyle: "italic" },
      { tag: [tags.function(tags.definition(tags.variableName)), tags.definition(tags.variableName)], color: "var(--fg)", fontWeight: "600" },
      { tag: tags.invalid, color: "var(--bad)" },
    ]),
  ),
];

/** Grows with its text (no inner scroller to reach by keyboard); named for screen readers. */
export function CodeEditor({ label, value, python: isPython, onChange }: { label: string; value: string; python: boolean; onChange: (text: string) => void }) {
  return (
    <CodeMirror
      value={value}
      minHeight="140px"
      theme="none"
      extensions={[
        EditorView.contentAttributes.of({ "aria-label": label }),
        EditorView.lineWrapping,
        CODE_THEME,
        ...(isPython ? [python()] : []),
      ]}
      onChange={onChange}
      basicSetup={{ foldGutter: false, highlightActiveLine: false, highlightActiveLineGutter: false }}
    />
  );
}
