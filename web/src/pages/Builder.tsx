// The visual flow builder: node types from the registry dragged (or keyed) onto a canvas, joined by
// their connectors (each connection checked by the server first), configured in a side form, saved
// as a DAG draft as you go, and registered as a flow version (`POST /v1/flows` takes the canvas as
// its spec unchanged). `/builder` starts a new draft, `/builder/:draftId` reopens one, and
// `/builder?flow=NAME&version=V` copies a registered version into a new draft.
import { useQuery } from "@tanstack/react-query";
import {
  applyEdgeChanges,
  applyNodeChanges,
  Background,
  Controls,
  MiniMap,
  ReactFlow,
  ReactFlowProvider,
  useReactFlow,
  type Connection,
  type EdgeChange,
  type IsValidConnection,
  type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useLocation, useNavigate, useParams, useSearchParams } from "react-router";
import { api, RequestFailed, retryTransient, session, unwrap, type Schemas } from "../api/client";
import { BuilderContext, BuilderNode, type BuilderFlowNode, type NodeDefinition } from "../components/builder/BuilderNode";
import { ConfigForm } from "../components/builder/ConfigForm";
import { DraftList } from "../components/builder/DraftList";
import { DRAG_TYPE, NodePanel } from "../components/builder/NodePanel";
import { ErrorNote } from "../components/common";
import {
  canvasToGraph,
  connectionsAt,
  edgeId,
  freeSpot,
  graphToCanvas,
  History,
  issuesOf,
  layoutPositions,
  newNodeId,
  NODE_HEIGHT,
  NODE_WIDTH,
  pasteCopies,
  renameNode,
  withConfig,
  type Canvas,
  type GraphEdge,
  type Issue,
} from "../lib/builder";
import "../components/builder/builder.css";

const nodeTypes = { builder: BuilderNode };
const EMPTY: Canvas = { nodes: [], edges: [] };
const NO_ISSUES: string[] = [];
const SAVE_DELAY_MS = 800;
const FLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

type Opened = { canvas: Canvas; flowName: string };
/** Drafts this tab created, with the editor instance that made each and its last content: the URL
 * moves from /builder to /builder/:id without the editor losing its state (or its undo history). */
const createdHere = new Map<string, { key: string; opened: Opened }>();

export function Builder() {
  const { draftId } = useParams();
  const [params] = useSearchParams();
  // Each visit to /builder is a new canvas (the editor keeps this key once its draft is created).
  const sessionKey = `new-${useLocation().key}`;
  const flow = params.get("flow");
  if (!draftId && flow) return <OpenVersion flow={flow} version={params.get("version")} />;
  if (!draftId) return <EditorHost editorKey={sessionKey} draftId={undefined} opened={{ canvas: EMPTY, flowName: "" }} />;
  const mine = createdHere.get(draftId);
  if (mine) return <EditorHost editorKey={mine.key} draftId={draftId} opened={mine.opened} />;
  return <DraftLoader draftId={draftId} />;
}

function DraftLoader({ draftId }: { draftId: string }) {
  const draft = useQuery({
    queryKey: ["dag-draft", session.orgId(), draftId],
    queryFn: async () => unwrap(await api.GET("/v1/dag-drafts/{draft_id}", { params: { path: { draft_id: draftId } } })),
    retry: retryTransient,
    staleTime: Infinity, // the editor owns the draft from here; a refetch must not reset it
    gcTime: 0, // and coming back to it reads what was saved since
  });
  const opened = useMemo(
    () => (draft.data ? { canvas: normalized(draft.data.canvas_json), flowName: draft.data.flow_name ?? "" } : null),
    [draft.data],
  );
  if (draft.error) return <BuilderError error={draft.error} />;
  if (!opened) return <p aria-busy="true">Loading the draft…</p>;
  return <EditorHost editorKey={draftId} draftId={draftId} opened={opened} />;
}

/** `?flow=NAME&version=V`: the version's spec copied into a new draft, then opened. */
function OpenVersion({ flow, version }: { flow: string; version: string | null }) {
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<unknown>(null);
  const started = useRef(false);
  useEffect(() => {
    if (started.current) return; // React's strict mode runs effects twice: one draft, not two
    started.current = true;
    (async () => {
      const read = version
        ? await api.GET("/v1/flows/{flow_name}/{flow_version}", { params: { path: { flow_name: flow, flow_version: version } } })
        : await api.GET("/v1/flows/{flow_name}/latest", { params: { path: { flow_name: flow } } });
      const found = unwrap(read);
      if ("entrypoint" in (found.flow_spec ?? {})) {
        throw new Error(`${flow} version ${found.flow_version} is a code flow (@flow/@task): its tasks are Python code, not nodes the builder can draw.`);
      }
      const canvas = normalized(found.flow_spec);
      const created = unwrap(
        await api.POST("/v1/dag-drafts", {
          body: { name: `${flow} (from version ${found.flow_version})`, flow_name: flow, canvas_json: canvas },
        }),
      );
      createdHere.set(created.draft_id, { key: created.draft_id, opened: { canvas, flowName: flow } });
      navigate(`/builder/${created.draft_id}`, { replace: true });
    })().catch(setError);
  }, [flow, version, navigate, location.key]);
  if (error) return <BuilderError error={error} />;
  return <p aria-busy="true">Opening {flow}{version ? ` version ${version}` : ""} in the builder…</p>;
}

/** A stored canvas or a spec in the builder's exact form (positions laid out where missing). */
function normalized(spec: unknown): Canvas {
  const graph = canvasToGraph(spec);
  return graphToCanvas(graph.nodes, graph.edges);
}

function BuilderError({ error }: { error: unknown }) {
  return (
    <section className="bld-page" aria-labelledby="builder-title">
      <h1 id="builder-title">Flow builder</h1>
      <ErrorNote error={error} />
      <p><Link to="/builder">Start a new flow</Link> or go back to <Link to="/flows">your flows</Link>.</p>
    </section>
  );
}

function EditorHost({ editorKey, draftId, opened }: { editorKey: string; draftId: string | undefined; opened: Opened }) {
  const orgId = session.orgId();
  const registry = useQuery({
    queryKey: ["node-registry", orgId],
    queryFn: async () => unwrap(await api.GET("/v1/nodes/registry", {})),
    retry: retryTransient,
    staleTime: 60_000,
  });
  const categories = useQuery({
    queryKey: ["node-registry", orgId, "categories"],
    queryFn: async () => unwrap(await api.GET("/v1/nodes/registry/categories", {})),
    retry: retryTransient,
    staleTime: 60_000,
  });
  if (registry.error) return <BuilderError error={registry.error} />;
  if (!registry.data) return <p aria-busy="true">Loading the node types…</p>;
  return (
    <ReactFlowProvider>
      <Editor
        key={editorKey}
        editorKey={editorKey}
        draftId={draftId}
        opened={opened}
        registry={registry.data.items}
        categories={categories.data?.categories ?? []}
      />
    </ReactFlowProvider>
  );
}

type SaveState = { kind: "idle" | "pending" | "saving" | "saved" } | { kind: "error"; error: unknown };
type Registered = Schemas["FlowCreated"];

function Editor({
  editorKey,
  draftId,
  opened,
  registry,
  categories,
}: {
  editorKey: string;
  draftId: string | undefined;
  opened: Opened;
  registry: NodeDefinition[];
  categories: Schemas["CategoryRead"][];
}) {
  const navigate = useNavigate();
  const flowApi = useReactFlow();
  const wrapper = useRef<HTMLDivElement>(null);
  const initial = useMemo(() => canvasToGraph(opened.canvas), [opened]);
  const [nodes, setNodes] = useState<BuilderFlowNode[]>(initial.nodes);
  const [edges, setEdges] = useState<GraphEdge[]>(initial.edges);
  const [flowName, setFlowName] = useState(opened.flowName);
  // Fit an opened graph once; a new canvas keeps its viewport, so drops land where they are let go.
  const [fitOnOpen] = useState(initial.nodes.length > 0);
  const [refusal, setRefusal] = useState<string | null>(null);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [registerError, setRegisterError] = useState<unknown>(null);
  const [registered, setRegistered] = useState<Registered | null>(null);
  const [registering, setRegistering] = useState(false);
  const [formRevision, setFormRevision] = useState(0);
  const [save, setSave] = useState<SaveState>({ kind: draftId ? "saved" : "idle" });
  const history = useRef(new History<Canvas>(opened.canvas));
  const [historyFlags, setHistoryFlags] = useState({ undo: false, redo: false });

  const definitions = useMemo(() => new Map(registry.map((d) => [d.node_type, d])), [registry]);
  const secrets = useQuery({
    queryKey: ["secrets", session.orgId(), "builder"],
    queryFn: async () => unwrap(await api.GET("/v1/secrets", { params: { query: { limit: 100 } } })),
    retry: retryTransient,
  });

  // --- Committing a change: one undo step and an auto-save. The effect reads the state of the
  // render the change produced, so a commit made with its setState calls sees their result.
  const [tick, setTick] = useState<{ n: number; mergeKey?: string; fromHistory?: boolean }>({ n: 0 });
  const commit = useCallback((mergeKey?: string, fromHistory = false) => setTick((t) => ({ n: t.n + 1, mergeKey, fromHistory })), []);

  // --- Auto-save: POST the draft on the first change, then PUT, at most every 800 ms.
  const draftRef = useRef(draftId);
  const latest = useRef<{ canvas: Canvas; flowName: string }>({ canvas: opened.canvas, flowName: opened.flowName });
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const inFlight = useRef(false);
  const again = useRef(false);
  const flush = useCallback(async () => {
    clearTimeout(timer.current);
    timer.current = undefined;
    if (inFlight.current) {
      again.current = true;
      return;
    }
    inFlight.current = true;
    setSave({ kind: "saving" });
    const { canvas, flowName: name } = latest.current;
    const validName = FLOW_NAME.test(name) ? name : null;
    try {
      if (!draftRef.current) {
        const created = unwrap(
          await api.POST("/v1/dag-drafts", { body: { name: name || "Untitled flow", flow_name: validName, canvas_json: canvas } }),
        );
        draftRef.current = created.draft_id;
        createdHere.set(created.draft_id, { key: editorKey, opened: latest.current });
        navigate(`/builder/${created.draft_id}`, { replace: true });
      } else {
        unwrap(
          await api.PUT("/v1/dag-drafts/{draft_id}", {
            params: { path: { draft_id: draftRef.current } },
            body: { name: name || "Untitled flow", flow_name: validName, canvas_json: canvas },
          }),
        );
        const mine = createdHere.get(draftRef.current);
        if (mine) mine.opened = { canvas, flowName: name };
      }
      setSave(timer.current ? { kind: "pending" } : { kind: "saved" });
    } catch (error) {
      setSave({ kind: "error", error });
    } finally {
      inFlight.current = false;
      if (again.current) {
        again.current = false;
        void flush();
      }
    }
  }, [editorKey, navigate]);
  const scheduleSave = useCallback(() => {
    setSave({ kind: "pending" });
    clearTimeout(timer.current);
    timer.current = setTimeout(() => void flush(), SAVE_DELAY_MS);
  }, [flush]);
  // Leaving the page with a save pending: send it now rather than lose it.
  useEffect(() => () => {
    if (timer.current) void flush();
  }, [flush]);

  useEffect(() => {
    if (tick.n === 0) return;
    const canvas = graphToCanvas(nodes, edges);
    if (!tick.fromHistory) history.current.push(canvas, tick.mergeKey);
    setHistoryFlags({ undo: history.current.canUndo, redo: history.current.canRedo });
    latest.current = { ...latest.current, canvas };
    scheduleSave();
    // Only a commit saves: a drag's every frame must not.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [tick]);

  const changeFlowName = (name: string) => {
    setFlowName(name);
    latest.current = { ...latest.current, flowName: name };
    scheduleSave();
  };

  // --- Editing.
  const onNodesChange = useCallback(
    (changes: NodeChange<BuilderFlowNode>[]) => {
      setNodes((ns) => applyNodeChanges(changes, ns));
      // A removal, or the end of a drag, is a step to undo and save.
      if (changes.some((c) => c.type === "remove" || (c.type === "position" && c.dragging === false))) commit();
    },
    [commit],
  );
  const onEdgesChange = useCallback(
    (changes: EdgeChange<GraphEdge>[]) => {
      setEdges((es) => applyEdgeChanges(changes, es));
      if (changes.some((c) => c.type === "remove")) commit();
    },
    [commit],
  );

  const addNode = useCallback(
    (nodeType: string, position?: { x: number; y: number }) => {
      setNodes((ns) => {
        const id = newNodeId(nodeType, ns.map((n) => n.id));
        let at = position;
        if (!at) {
          const box = wrapper.current?.getBoundingClientRect();
          const center = box
            ? flowApi.screenToFlowPosition({ x: box.left + box.width / 3, y: box.top + box.height / 3 })
            : { x: 0, y: 0 };
          at = freeSpot(ns, center);
        }
        const node: BuilderFlowNode = { id, type: "builder", position: at, data: { nodeType, config: {} }, selected: true };
        return [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node];
      });
      commit();
    },
    [commit, flowApi],
  );

  const onDrop = (event: React.DragEvent) => {
    const nodeType = event.dataTransfer.getData(DRAG_TYPE);
    if (!nodeType) return;
    event.preventDefault();
    const point = flowApi.screenToFlowPosition({ x: event.clientX, y: event.clientY });
    addNode(nodeType, { x: Math.round(point.x - NODE_WIDTH / 2), y: Math.round(point.y - NODE_HEIGHT / 2) });
  };

  const nodesRef = useRef(nodes);
  nodesRef.current = nodes;
  const edgesRef = useRef(edges);
  edgesRef.current = edges;

  /** A node can't feed itself, nor the same connectors twice; the server judges the rest. */
  const isValidConnection: IsValidConnection = useCallback(
    (c) =>
      c.source !== c.target &&
      !edgesRef.current.some(
        (e) => e.source === c.source && e.target === c.target && (e.sourceHandle ?? null) === (c.sourceHandle ?? null) && (e.targetHandle ?? null) === (c.targetHandle ?? null),
      ),
    [],
  );

  const onConnect = useCallback(
    async (c: Connection) => {
      const source = nodesRef.current.find((n) => n.id === c.source);
      const target = nodesRef.current.find((n) => n.id === c.target);
      if (!source || !target) return;
      setRefusal(null);
      try {
        const verdict = unwrap(
          await api.POST("/v1/nodes/validate-connection", {
            body: {
              source_node_type: source.data.nodeType,
              source_connector_id: c.sourceHandle ?? null,
              target_node_type: target.data.nodeType,
              target_connector_id: c.targetHandle ?? null,
              existing_source_connections: connectionsAt(edgesRef.current, c.source, c.sourceHandle, "source"),
              existing_target_connections: connectionsAt(edgesRef.current, c.target, c.targetHandle, "target"),
            },
          }),
        );
        if (!verdict.valid) {
          setRefusal(`${c.source} → ${c.target} was not connected: ${verdict.reason ?? verdict.errors.join("; ")}`);
          return;
        }
      } catch (error) {
        setRefusal(`${c.source} → ${c.target} could not be checked: ${error instanceof Error ? error.message : String(error)}`);
        return;
      }
      setEdges((es) => [
        ...es,
        { id: edgeId(c.source, c.sourceHandle, c.target, c.targetHandle, es), source: c.source, target: c.target, sourceHandle: c.sourceHandle, targetHandle: c.targetHandle },
      ]);
      commit();
    },
    [commit],
  );

  const selectedNodes = nodes.filter((n) => n.selected);
  const editing = selectedNodes.length === 1 ? selectedNodes[0] : null;

  // Stable callbacks and ids: the form and the panel skip the re-render of every drag frame.
  const idsKey = nodes.map((n) => n.id).join("\n");
  const allIds = useMemo(() => (idsKey ? idsKey.split("\n") : []), [idsKey]);
  const changeConfig = useCallback(
    (id: string, name: string, value: unknown) => {
      setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, config: withConfig(n.data.config, name, value) } } : n)));
      commit(`${id}:${name}`);
    },
    [commit],
  );
  const rename = useCallback(
    (from: string, to: string) => {
      const next = renameNode(nodesRef.current, edgesRef.current, from, to);
      setNodes(next.nodes as BuilderFlowNode[]);
      setEdges(next.edges);
      setIssues((list) => list.map((i) => (i.nodeId === from ? { ...i, nodeId: to } : i)));
      commit();
    },
    [commit],
  );
  const addFromPanel = useCallback((nodeType: string) => addNode(nodeType), [addNode]);

  const restore = useCallback(
    (canvas: Canvas | undefined) => {
      if (!canvas) return;
      const graph = canvasToGraph(canvas);
      setNodes(graph.nodes);
      setEdges(graph.edges);
      setFormRevision((r) => r + 1);
      commit(undefined, true);
    },
    [commit],
  );
  const undo = useCallback(() => restore(history.current.undo()), [restore]);
  const redo = useCallback(() => restore(history.current.redo()), [restore]);

  const layout = () => {
    const positions = layoutPositions(nodes, edges);
    setNodes((ns) => ns.map((n) => ({ ...n, position: positions.get(n.id) ?? n.position })));
    commit();
    requestAnimationFrame(() => void flowApi.fitView({ padding: 0.15, maxZoom: 1, duration: 200 }));
  };

  // --- Keyboard: undo/redo and copy/paste, unless the key is for a field being typed in.
  const clipboard = useRef<{ nodes: BuilderFlowNode[]; edges: GraphEdge[] } | null>(null);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (target?.closest("input, textarea, select, [contenteditable='true'], .cm-editor")) return;
      if (!(event.ctrlKey || event.metaKey)) return;
      const key = event.key.toLowerCase();
      if (key === "z" && !event.shiftKey) undo();
      else if ((key === "z" && event.shiftKey) || key === "y") redo();
      else if (key === "c") {
        const chosen = nodesRef.current.filter((n) => n.selected);
        if (chosen.length === 0) return;
        const ids = new Set(chosen.map((n) => n.id));
        clipboard.current = { nodes: chosen, edges: edgesRef.current.filter((e) => ids.has(e.source) && ids.has(e.target)) };
      } else if (key === "v") {
        if (!clipboard.current) return;
        const pasted = pasteCopies(clipboard.current, nodesRef.current.map((n) => n.id));
        setNodes((ns) => [...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), ...(pasted.nodes as BuilderFlowNode[])]);
        setEdges((es) => [...es, ...pasted.edges.map((e) => ({ ...e, id: edgeId(e.source, e.sourceHandle, e.target, e.targetHandle, es) }))]);
        commit();
      } else return;
      event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo, commit]);

  // --- Register as a flow version.
  const register = async () => {
    const canvas = graphToCanvas(nodes, edges);
    setRegistering(true);
    setRegisterError(null);
    setRegistered(null);
    setIssues([]);
    try {
      const created = unwrap(await api.POST("/v1/flows", { body: { flow_name: flowName, flow_spec: canvas as unknown as Record<string, unknown>, status: "active" } }));
      setRegistered(created);
    } catch (error) {
      setRegisterError(error);
      if (error instanceof RequestFailed) setIssues(issuesOf(error.body?.details, canvas));
    } finally {
      setRegistering(false);
    }
  };

  const issuesByNode = useMemo(() => {
    const byNode = new Map<string, string[]>();
    for (const issue of issues) {
      if (!issue.nodeId) continue;
      byNode.set(issue.nodeId, [...(byNode.get(issue.nodeId) ?? []), `${issue.field}: ${issue.message}`]);
    }
    return byNode;
  }, [issues]);
  const context = useMemo(() => ({ definitions, issues: issuesByNode }), [definitions, issuesByNode]);
  const nameProblem = flowName && !FLOW_NAME.test(flowName) ? "Letters, digits, _ . and -, starting with a letter or digit (at most 128)." : null;
  const many = nodes.length > 80;

  return (
    <section className="bld-page" aria-labelledby="builder-title">
      <div className="page-head bld-head">
        <h1 id="builder-title">Flow builder</h1>
        <label className="bld-name">
          <span>Flow name</span>
          <input
            value={flowName}
            onChange={(e) => changeFlowName(e.target.value)}
            placeholder="daily-report"
            aria-invalid={nameProblem ? true : undefined}
            aria-describedby={nameProblem ? "bld-name-problem" : undefined}
          />
        </label>
        <SaveStatus save={save} />
        <div className="bld-tools" role="toolbar" aria-label="Canvas">
          <button type="button" className="button" onClick={undo} disabled={!historyFlags.undo} title="Ctrl/Cmd+Z">Undo</button>
          <button type="button" className="button" onClick={redo} disabled={!historyFlags.redo} title="Ctrl/Cmd+Shift+Z or Ctrl+Y">Redo</button>
          <button type="button" className="button" onClick={layout} disabled={nodes.length === 0}>Auto-layout</button>
          <button type="button" className="button primary" onClick={register} disabled={registering || !flowName || !!nameProblem}>
            {registering ? "Registering…" : "Register"}
          </button>
        </div>
      </div>
      {nameProblem && <p id="bld-name-problem" className="error">{nameProblem}</p>}
      {!flowName && <p className="muted bld-note">Name the flow to register it; your work is saved as a draft meanwhile.</p>}
      <div aria-live="assertive">{refusal && <p className="error bld-refusal" role="alert">{refusal}</p>}</div>
      {registered && (
        <div className="bld-registered" role="status">
          <p>
            Registered <Link to={`/flows/${encodeURIComponent(registered.flow_name)}`}>{registered.flow_name}</Link> version{" "}
            {registered.flow_version}.{" "}
            <Link className="button primary" to={`/runs/new?flow=${encodeURIComponent(registered.flow_name)}&version=${encodeURIComponent(registered.flow_version)}`}>
              Run it
            </Link>
          </p>
          {registered.warnings && registered.warnings.length > 0 && (
            <ul className="muted">{registered.warnings.map((w) => <li key={w}>{w}</li>)}</ul>
          )}
        </div>
      )}
      {registerError != null && (
        <div className="bld-issues">
          <ErrorNote error={issues.length > 0 ? new Error((registerError as Error).message) : registerError} />
          {issues.length > 0 && (
            <ul aria-label="Problems found when registering">
              {issues.map((issue, i) => (
                <li key={i}>
                  {issue.nodeId ? (
                    <button type="button" className="linklike" onClick={() => selectOnly(issue.nodeId!)}>{issue.nodeId}</button>
                  ) : null}{" "}
                  <code>{issue.field}</code>: {issue.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <div className="bld-grid">
        <NodePanel nodes={registry} categories={categories} onAdd={addFromPanel} />
        <div
          className="bld-canvas"
          ref={wrapper}
          onDragOver={(e) => {
            if (e.dataTransfer.types.includes(DRAG_TYPE)) {
              e.preventDefault();
              e.dataTransfer.dropEffect = "copy";
            }
          }}
          onDrop={onDrop}
          aria-label="Canvas"
        >
          <BuilderContext.Provider value={context}>
            <ReactFlow
              nodes={nodes}
              edges={edges}
              nodeTypes={nodeTypes}
              onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange}
              onConnect={onConnect}
              isValidConnection={isValidConnection}
              deleteKeyCode={["Delete", "Backspace"]}
              fitView={fitOnOpen}
              fitViewOptions={{ padding: 0.15, maxZoom: 1 }}
              minZoom={0.1}
              onlyRenderVisibleElements={many}
              proOptions={{ hideAttribution: true }}
            >
              <Background />
              <Controls />
              {!many && <MiniMap pannable zoomable ariaLabel="Overview of the canvas" />}
            </ReactFlow>
          </BuilderContext.Provider>
          {nodes.length === 0 && (
            <div className="bld-empty" role="note">
              <strong>An empty flow.</strong> Drag a node type from the left onto this canvas (or press one), join an
              output (bottom) to an input (top) by dragging between them, then select a node to configure it.
            </div>
          )}
        </div>
        <aside className="bld-side" aria-label="Selected node">
          {editing ? (
            <ConfigForm
              key={`${editing.id}:${formRevision}`}
              nodeId={editing.id}
              nodeType={editing.data.nodeType}
              config={editing.data.config}
              definition={definitions.get(editing.data.nodeType)}
              allIds={allIds}
              secrets={secrets.data?.items}
              issues={issuesByNode.get(editing.id) ?? NO_ISSUES}
              onChange={changeConfig}
              onRename={rename}
            />
          ) : (
            <div className="muted">
              <h2>Configure</h2>
              <p>{selectedNodes.length > 1 ? `${selectedNodes.length} nodes selected: Ctrl/Cmd+C copies them, Delete removes them.` : "Select a node to edit its settings."}</p>
              <p className="bld-keys">Undo Ctrl/Cmd+Z · Redo Ctrl/Cmd+Shift+Z · Copy/paste Ctrl/Cmd+C/V · Delete removes the selection.</p>
              <DraftList current={draftId} />
            </div>
          )}
        </aside>
      </div>
    </section>
  );

  function selectOnly(id: string) {
    setNodes((ns) => ns.map((n) => (n.selected === (n.id === id) ? n : { ...n, selected: n.id === id })));
    const node = nodes.find((n) => n.id === id);
    if (node) void flowApi.setCenter(node.position.x + NODE_WIDTH / 2, node.position.y + NODE_HEIGHT / 2, { zoom: 1, duration: 200 });
  }
}

function SaveStatus({ save }: { save: SaveState }) {
  const words =
    save.kind === "idle"
      ? "Not saved yet: a draft is saved on your first change"
      : save.kind === "pending"
        ? "Unsaved changes"
        : save.kind === "saving"
          ? "Saving…"
          : save.kind === "saved"
            ? "Saved"
            : "Not saved";
  return (
    <div className={`bld-save bld-save-${save.kind}`} role="status" aria-live="polite">
      {words}
      {save.kind === "error" && <ErrorNote error={save.error} />}
    </div>
  );
}
