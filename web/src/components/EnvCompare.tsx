// Two environments side by side (`GET /v1/environments/{a}/diff/{b}`, and their variables), and
// the promotion from the first into the second.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../api/client";
import { diffEffect, diffRows, promotionPlan, variableRows, type DiffRow } from "../lib/envDiff";
import { keys } from "../lib/flowsQueries";
import { ErrorNote } from "./common";
import { PromoteButton } from "./EnvPromote";
import { useVariables } from "./EnvVariables";

type Env = Schemas["EnvironmentSummary"];

export function EnvCompare({
  environments,
  from,
  to,
  onChange,
}: {
  environments: Env[];
  from: string;
  to: string;
  onChange: (from: string, to: string) => void;
}) {
  const target = environments.find((e) => e.env_name === to);
  const ready = Boolean(from && to && from !== to);
  return (
    <>
      <form className="env-inline-form" aria-label="Environments to compare" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span>From</span>
          <select value={from} onChange={(e) => onChange(e.target.value, to)}>
            {environments.map((e) => <option key={e.env_id} value={e.env_name}>{e.env_name}</option>)}
          </select>
        </label>
        <span aria-hidden="true">→</span>
        <label>
          <span>To</span>
          <select value={to} onChange={(e) => onChange(from, e.target.value)}>
            <option value="">Choose…</option>
            {environments.map((e) => <option key={e.env_id} value={e.env_name}>{e.env_name}</option>)}
          </select>
        </label>
      </form>
      {!to && <p>{from} is the last environment of the promotion order: choose the environment to compare it with.</p>}
      {to && from === to && <p>Choose two different environments.</p>}
      {ready && target && <EnvDiff key={`${from}->${to}`} from={from} target={target} />}
    </>
  );
}

function EnvDiff({ from, target }: { from: string; target: Env }) {
  const to = target.env_name;
  const diff = useQuery({
    queryKey: keys.diff(from, to),
    queryFn: async () =>
      unwrap(await api.GET("/v1/environments/{env_name}/diff/{target_env}", { params: { path: { env_name: from, target_env: to } } })),
  });
  if (diff.isPending) return <p aria-busy="true">Comparing {from} with {to}…</p>;
  if (diff.isError) return <ErrorNote error={diff.error} />;
  const rows = diffRows(diff.data);
  const plan = promotionPlan(diff.data);
  return (
    <>
      <h3>Deployments that differ</h3>
      {rows.length === 0 ? (
        <p>{from} and {to} run the same versions of the same flows.</p>
      ) : (
        <DiffTable rows={rows} from={from} to={to} />
      )}
      <PromoteButton plan={plan} source={from} target={target} />
      {rows.length > 0 && plan.length === 0 && <p className="env-muted">Nothing in {from} is missing from {to} or at another version: there is nothing to promote.</p>}
      <h3>Variables that differ</h3>
      <VariablesDiff from={from} to={to} />
    </>
  );
}

function Deployed({ item }: { item: Schemas["DiffItem"] | undefined }) {
  if (!item) return <span className="env-muted">not deployed</span>;
  return (
    <>
      version <strong>{item.flow_version}</strong> <span className="env-muted">(<code>{item.deployment_name}</code>)</span>
    </>
  );
}

function DiffTable({ rows, from, to }: { rows: DiffRow[]; from: string; to: string }) {
  return (
    <table className="env-table env-diff">
      <caption className="visually-hidden">Flows deployed differently in {from} and {to}</caption>
      <thead>
        <tr>
          <th scope="col">Flow</th>
          <th scope="col">In {from}</th>
          <th scope="col">In {to}</th>
          <th scope="col">Promotion from {from}</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={`${row.kind}:${row.source?.deployment_name ?? row.target?.deployment_name}`} className={`env-diff-${row.kind}`}>
            <th scope="row"><Link to={`/flows/${encodeURIComponent(row.flow)}`}>{row.flow}</Link></th>
            <td><Deployed item={row.source} /></td>
            <td><Deployed item={row.target} /></td>
            <td>{diffEffect(row, to)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function VariablesDiff({ from, to }: { from: string; to: string }) {
  const source = useVariables(from);
  const target = useVariables(to);
  if (source.isPending || target.isPending) return <p aria-busy="true">Loading variables…</p>;
  if (source.isError || target.isError) return <ErrorNote error={source.error ?? target.error} />;
  const rows = variableRows(source.data.variables, target.data.variables);
  if (rows.length === 0) return <p>{from} and {to} have the same variables.</p>;
  const value = (v: string | undefined) => (v === undefined ? <span className="env-muted">not set</span> : <code className="env-value">{v}</code>);
  return (
    <>
      <table className="env-table env-diff">
        <caption className="visually-hidden">Variables that differ between {from} and {to}</caption>
        <thead>
          <tr>
            <th scope="col">Variable</th>
            <th scope="col">In {from}</th>
            <th scope="col">In {to}</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.key} className={`env-diff-${row.kind}`}>
              <th scope="row"><code>{row.key}</code></th>
              <td>{value(row.source)}</td>
              <td>{value(row.target)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="env-muted">Each environment keeps its own variables: a promotion does not copy them.</p>
    </>
  );
}
