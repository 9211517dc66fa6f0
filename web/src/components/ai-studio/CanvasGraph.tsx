import { Handle, Position, type NodeProps, type NodeTypes } from "@xyflow/react";
import { memo, useMemo } from "react";
import { StaticGraph } from "../StaticGraph";
import { canvasGraph, CANVAS_NODE_HEIGHT, type Canvas, type CanvasNode } from "../../lib/aiStudio";

/** One step: its label, and its node type in words under it. */
const CanvasNodeView = memo(function CanvasNodeView({ data }: NodeProps<CanvasNode>) {
  return (
    <>
      <Handle type="target" position={Position.Top} isConnectable={false} />
      <span className="studio-node-label" title={data.label}>{data.label}</span>
      <span className="studio-node-type">{data.nodeType}</span>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </>
  );
});

const nodeTypes: NodeTypes = { canvas: CanvasNodeView };

/** The box's height: the graph's own at zoom 1 plus room for the controls, within 220-560 px. */
function boxHeight(nodes: readonly CanvasNode[]): number {
  const bottom = Math.max(0, ...nodes.map((n) => n.position.y + CANVAS_NODE_HEIGHT));
  return Math.round(Math.min(560, Math.max(220, bottom * 1.15 + 60)));
}

/**
 * The generated workflow as a read-only graph (as the run page's RunDag): the
 * steps top to bottom. Redrawn as each `canvas` event of a turn arrives; the
 * view is fitted again whenever the graph's shape changes. Editing happens in the builder.
 */
export function CanvasGraph({ canvas }: { canvas: Canvas }) {
  const graph = useMemo(() => canvasGraph(canvas), [canvas]);
  const height = useMemo(() => boxHeight(graph.nodes), [graph]);
  if (graph.nodes.length === 0) return <p className="muted">The workflow has no steps yet.</p>;
  return (
    <figure className="studio-graph" aria-label={`Workflow graph of ${graph.nodes.length} steps`}>
      <StaticGraph nodes={graph.nodes} edges={graph.edges} nodeTypes={nodeTypes} shape={graph.key} height={height} />
      {/* The graph in words, for screen readers and for a quick read of the steps in order. */}
      <figcaption>
        <ol className="studio-steps">
          {graph.nodes.map((n) => (
            <li key={n.id}>
              {n.data.label} <span className="muted">({n.data.nodeType})</span>
            </li>
          ))}
        </ol>
      </figcaption>
    </figure>
  );
}
