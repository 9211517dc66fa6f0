// One node on the builder's canvas: its id and type, a handle per connector of its registry type
// (inputs on top, outputs below, each named), and the register call's problems with it in red.
import { Handle, Position, type Node, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext } from "react";
import type { Schemas } from "../../api/client";
import type { BuilderData } from "../../lib/builder";

export type NodeDefinition = Schemas["NodeDefinitionRead"];
export type BuilderFlowNode = Node<BuilderData, "builder">;

/** What every node reads but rarely changes: the registry and the problems by node id. Kept out of
 * node data so that a drag re-renders only the node that moves. */
export const BuilderContext = createContext<{
  definitions: ReadonlyMap<string, NodeDefinition>;
  issues: ReadonlyMap<string, string[]>;
}>({ definitions: new Map(), issues: new Map() });

/** `left` of the i-th of n handles along an edge of the node, in %. */
const spread = (i: number, n: number) => `${((i + 1) * 100) / (n + 1)}%`;

export const BuilderNode = memo(function BuilderNode({ id, data, selected }: NodeProps<BuilderFlowNode>) {
  const { definitions, issues } = useContext(BuilderContext);
  const definition = definitions.get(data.nodeType);
  const problems = issues.get(id);
  const inputs = definition?.connectors.filter((c) => c.direction === "inbound") ?? [];
  const outputs = definition?.connectors.filter((c) => c.direction === "outbound") ?? [];
  return (
    <div className={`bn${problems ? " bn-invalid" : ""}${selected ? " bn-selected" : ""}`} data-color={definition?.color}>
      <Connectors connectors={inputs} type="target" />
      <span className="bn-id" title={id}>{id}</span>
      <span className="bn-type">
        {definition ? definition.label : <span className="error">unknown type {data.nodeType}</span>}
        {outputs.length > 1 && <> · {outputs.map((c) => c.name).join(" | ")}</>}
      </span>
      {problems && (
        <span className="bn-problem" role="note">
          {problems[0]}
          {problems.length > 1 && ` (+${problems.length - 1} more)`}
        </span>
      )}
      <Connectors connectors={outputs} type="source" />
    </div>
  );
});

type Connector = NodeDefinition["connectors"][number];

/** A handle per connector, spread along the node's top (inputs) or bottom (outputs) edge. */
function Connectors({ connectors, type }: { connectors: Connector[]; type: "target" | "source" }) {
  const [position, role] = type === "target" ? [Position.Top, "input"] : [Position.Bottom, "output"];
  return connectors.map((c, i) => (
    <Handle
      key={c.id}
      id={c.id}
      type={type}
      position={position}
      style={{ left: spread(i, connectors.length) }}
      title={`${c.name} (${role}: ${c.data_types.join(", ")})`}
    />
  ));
}
