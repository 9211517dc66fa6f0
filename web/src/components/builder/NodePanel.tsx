// The node panel: the registry's node types by category, a search box, and the org's own types.
// Drag an item onto the canvas to place it there, or press it (click, Enter, Space) to add it at a
// free spot: the keyboard way in.
import { memo, useId, useState } from "react";
import type { Schemas } from "../../api/client";
import { matchesSearch } from "../../lib/builder";
import type { NodeDefinition } from "./BuilderNode";

/** The drag's data type: a node type name, only meaningful to this page's canvas. */
export const DRAG_TYPE = "application/x-dagy-node-type";

export const NodePanel = memo(function NodePanel({
  nodes,
  categories,
  onAdd,
}: {
  nodes: readonly NodeDefinition[];
  categories: readonly Schemas["CategoryRead"][];
  onAdd: (nodeType: string) => void;
}) {
  const [query, setQuery] = useState("");
  const [category, setCategory] = useState("");
  const hint = useId();
  const shown = nodes.filter((n) => (!category || n.category === category) && matchesSearch(n, query));
  const builtin = shown.filter((n) => n.official);
  const custom = shown.filter((n) => !n.official);
  return (
    <aside className="bp" aria-label="Node types">
      <h2>Add nodes</h2>
      <p id={hint} className="muted bp-hint">Drag a node onto the canvas, or press it to add it.</p>
      <label className="bp-field">
        <span>Search</span>
        <input type="search" value={query} onChange={(e) => setQuery(e.target.value)} placeholder="python, s3, slack…" />
      </label>
      <label className="bp-field">
        <span>Category</span>
        <select value={category} onChange={(e) => setCategory(e.target.value)}>
          <option value="">All ({nodes.length})</option>
          {categories.map((c) => (
            <option key={c.id} value={c.id}>{c.label} ({c.count})</option>
          ))}
        </select>
      </label>
      {shown.length === 0 && <p className="muted">No node type matches; clear the search or pick another category.</p>}
      <PanelGroup title="Built-in" items={builtin} hint={hint} onAdd={onAdd} />
      <PanelGroup title="Your organization's" items={custom} hint={hint} onAdd={onAdd} />
      {nodes.length > 0 && nodes.every((n) => n.official) && (
        <p className="muted bp-hint">Your organization has no node types of its own yet (POST /v1/nodes/registry adds one).</p>
      )}
    </aside>
  );
});

function PanelGroup({ title, items, hint, onAdd }: { title: string; items: NodeDefinition[]; hint: string; onAdd: (t: string) => void }) {
  if (items.length === 0) return null;
  return (
    <section>
      <h3>{title}</h3>
      <ul className="bp-list">
        {items.map((n) => (
          <li key={n.node_type}>
            <button
              type="button"
              className="bp-item"
              draggable
              data-node-type={n.node_type}
              aria-describedby={hint}
              title={n.description}
              onDragStart={(e) => {
                e.dataTransfer.setData(DRAG_TYPE, n.node_type);
                e.dataTransfer.effectAllowed = "copy";
              }}
              onClick={() => onAdd(n.node_type)}
            >
              <strong>{n.label}</strong>
              <span className="bp-type">{n.node_type}{n.executable ? "" : " · cannot run yet"}</span>
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
