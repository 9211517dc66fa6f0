// The selected node's side form: its id (unique, renaming follows its edges) and a control per
// field of its type's `config_schema`. A field left empty is left out of the spec, so the node
// type's default applies. Secrets are picked from the org's secrets, never typed in.
import { lazy, memo, Suspense, useId, useState } from "react";
import type { Schemas } from "../../api/client";
import { fieldKind, nodeIdProblem, parseJsonField, parseNumber, secretName, type ConfigField } from "../../lib/builder";
import type { NodeDefinition } from "./BuilderNode";

// CodeMirror is loaded with the first code field shown, not with the builder.
const CodeEditor = lazy(() => import("./CodeEditor").then((m) => ({ default: m.CodeEditor })));

type Props = {
  nodeId: string;
  config: Record<string, unknown>;
  definition: NodeDefinition | undefined;
  nodeType: string;
  allIds: readonly string[];
  secrets: readonly Schemas["SecretRead"][] | undefined;
  issues: readonly string[];
  onChange: (nodeId: string, name: string, value: unknown) => void;
  onRename: (from: string, to: string) => void;
};

export const ConfigForm = memo(function ConfigForm({ nodeId, config, definition, nodeType, allIds, secrets, issues, onChange, onRename }: Props) {
  return (
    <form className="bc" aria-label={`Configure ${nodeId}`} onSubmit={(e) => e.preventDefault()}>
      <h2>{nodeId}</h2>
      <p className="muted">{definition ? `${definition.label}: ${definition.description}` : `Unknown node type ${nodeType}.`}</p>
      {issues.length > 0 && (
        <ul className="error" aria-label="Problems with this node">
          {issues.map((issue) => <li key={issue}>{issue}</li>)}
        </ul>
      )}
      <IdField nodeId={nodeId} allIds={allIds} onRename={(to) => onRename(nodeId, to)} />
      {definition?.config_schema.map((field) => (
        <ConfigControl key={field.name} field={field} value={config[field.name]} secrets={secrets} nodeType={nodeType} onChange={(v) => onChange(nodeId, field.name, v)} />
      ))}
      {definition && definition.config_schema.length === 0 && <p className="muted">This node type has nothing to configure.</p>}
    </form>
  );
});

function IdField({ nodeId, allIds, onRename }: { nodeId: string; allIds: readonly string[]; onRename: (to: string) => void }) {
  const [text, setText] = useState(nodeId);
  const problem = nodeIdProblem(text, nodeId, allIds);
  const errorId = useId();
  const commit = () => {
    if (!problem && text !== nodeId) onRename(text);
  };
  return (
    <label className="bc-field">
      <span>Node id</span>
      <input
        value={text}
        onChange={(e) => setText(e.target.value)}
        onBlur={commit}
        onKeyDown={(e) => e.key === "Enter" && commit()}
        aria-invalid={problem ? true : undefined}
        aria-describedby={problem ? errorId : undefined}
      />
      {problem && <small id={errorId} className="error">{problem}</small>}
    </label>
  );
}

function Label({ field }: { field: ConfigField }) {
  return (
    <span>
      {field.label}
      {field.required && <abbr title="required"> *</abbr>}
    </span>
  );
}

function ConfigControl({
  field,
  value,
  secrets,
  nodeType,
  onChange,
}: {
  field: ConfigField;
  value: unknown;
  secrets: Props["secrets"];
  nodeType: string;
  onChange: (value: unknown) => void;
}) {
  const help = useId();
  const description = field.description ? <small id={help} className="muted">{field.description}{field.default != null && ` Default: ${JSON.stringify(field.default)}.`}</small> : null;
  const described = field.description ? help : undefined;
  switch (fieldKind(field)) {
    case "boolean":
      return (
        <label className="bc-field bc-check">
          <input
            type="checkbox"
            checked={typeof value === "boolean" ? value : field.default === true}
            onChange={(e) => onChange(e.target.checked)}
            aria-describedby={described}
          />
          <Label field={field} />
          {description}
        </label>
      );
    case "select":
      return (
        <label className="bc-field">
          <Label field={field} />
          <select value={typeof value === "string" ? value : ""} onChange={(e) => onChange(e.target.value || undefined)} aria-describedby={described}>
            <option value="">{field.default != null ? `Default (${String(field.default)})` : "— choose —"}</option>
            {field.options?.map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
          {description}
        </label>
      );
    case "secret": {
      const chosen = secretName(value);
      const literal = typeof value === "string" && value !== "";
      return (
        <label className="bc-field">
          <Label field={field} />
          <select
            value={chosen ?? (literal ? "__literal__" : "")}
            onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value === "__literal__" ? value : { secret: e.target.value })}
            aria-describedby={described}
          >
            <option value="">— no secret —</option>
            {literal && <option value="__literal__">(a value typed into the spec)</option>}
            {chosen && !secrets?.some((s) => s.secret_name === chosen) && <option value={chosen}>{chosen} (not in this org)</option>}
            {secrets?.map((s) => (
              <option key={s.secret_id} value={s.secret_name}>{s.secret_name}{s.environment ? ` (${s.environment})` : ""}</option>
            ))}
          </select>
          {secrets && secrets.length === 0 && <small className="muted">No secrets yet: add one under Settings → Secrets.</small>}
          {description}
        </label>
      );
    }
    case "code":
      return (
        <div className="bc-field">
          <Label field={field} />
          <Suspense fallback={<p aria-busy="true">Loading the editor…</p>}>
            <CodeEditor
              label={field.label}
              value={typeof value === "string" ? value : ""}
              python={nodeType === "python_function"}
              onChange={(text) => onChange(text === "" ? undefined : text)}
            />
          </Suspense>
          {description}
        </div>
      );
    case "json":
      return <JsonControl field={field} value={value} onChange={onChange} description={description} described={described} />;
    case "integer":
    case "number":
      return <NumberControl field={field} value={value} onChange={onChange} description={description} described={described} />;
    default:
      return (
        <label className="bc-field">
          <Label field={field} />
          <input
            value={typeof value === "string" ? value : value == null ? "" : JSON.stringify(value)}
            placeholder={field.default != null ? String(field.default) : undefined}
            onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
            aria-describedby={described}
          />
          {description}
        </label>
      );
  }
}

type ControlProps = { field: ConfigField; value: unknown; onChange: (v: unknown) => void; description: React.ReactNode; described?: string };

/** Typed text kept as typed; the config changes only when it parses. */
function NumberControl({ field, value, onChange, description, described }: ControlProps) {
  const [text, setText] = useState(typeof value === "number" ? String(value) : "");
  const parsed = parseNumber(text, field.type === "integer");
  const errorId = useId();
  return (
    <label className="bc-field">
      <Label field={field} />
      <input
        inputMode={field.type === "integer" ? "numeric" : "decimal"}
        value={text}
        placeholder={field.default != null ? String(field.default) : undefined}
        onChange={(e) => {
          setText(e.target.value);
          const next = parseNumber(e.target.value, field.type === "integer");
          if (!next.error) onChange(next.value);
        }}
        aria-invalid={parsed.error ? true : undefined}
        aria-describedby={[described, parsed.error ? errorId : ""].filter(Boolean).join(" ") || undefined}
      />
      {parsed.error && <small id={errorId} className="error">{parsed.error}</small>}
      {description}
    </label>
  );
}

function JsonControl({ field, value, onChange, description, described }: ControlProps) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const parsed = parseJsonField(text, field.type);
  const errorId = useId();
  return (
    <label className="bc-field">
      <Label field={field} />
      <textarea
        rows={4}
        value={text}
        spellCheck={false}
        placeholder={field.type === "array" ? "[ ]" : "{ }"}
        onChange={(e) => {
          setText(e.target.value);
          const next = parseJsonField(e.target.value, field.type);
          if (!next.error) onChange(next.value);
        }}
        aria-invalid={parsed.error ? true : undefined}
        aria-describedby={[described, parsed.error ? errorId : ""].filter(Boolean).join(" ") || undefined}
      />
      {parsed.error && <small id={errorId} className="error">JSON: {parsed.error}</small>}
      {description}
    </label>
  );
}
