import { Background, Controls, ReactFlow, useReactFlow, type Edge, type Node, type NodeTypes } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useEffect, useRef } from "react";

/** Fit the whole graph, but never zoom a small one past its natural size. */
const FIT = { maxZoom: 1, padding: 0.1 };

/**
 * A graph to look at, not to edit (React Flow): nothing is dragged, connected, selected or
 * focused; zoom and pan only. `shape` names the graph's shape (its nodes and edges): the view is
 * fitted again when it changes, not when only the nodes' data does. Past 50 nodes only the visible
 * ones are drawn.
 */
export function StaticGraph<N extends Node>({
  nodes,
  edges,
  nodeTypes,
  shape,
  height,
}: {
  nodes: N[];
  edges: Edge[];
  nodeTypes: NodeTypes;
  shape: string;
  height: number;
}) {
  return (
    <div className="dag" style={{ height }}>
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        fitViewOptions={FIT}
        minZoom={0.1}
        nodesDraggable={false}
        nodesConnectable={false}
        nodesFocusable={false}
        edgesFocusable={false}
        elementsSelectable={false}
        onlyRenderVisibleElements={nodes.length > 50}
        proOptions={{ hideAttribution: true }}
      >
        <FitOnReshape shape={shape} />
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}

function FitOnReshape({ shape }: { shape: string }) {
  const flow = useReactFlow();
  const first = useRef(shape);
  useEffect(() => {
    if (shape !== first.current) void flow.fitView({ ...FIT, duration: 200 });
  }, [shape, flow]);
  return null;
}
