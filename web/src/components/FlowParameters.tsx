// The parameters a version's runs take: a code flow's schema as a table, else what runs get.
import type { Schemas } from "../api/client";
import { extraParameters, parameterRows } from "../lib/flowsSchema";

export function FlowParameters({ version }: { version: Schemas["FlowVersionRead"] }) {
  const schema = version.parameter_schema;
  if (!schema) {
    return (
      <p className="fl-muted">
        Runs of this version are not checked against a schema: the parameters given to a run are handed to each node as{" "}
        <code>params</code> (a DAG flow) or to the entry function as keyword arguments.
      </p>
    );
  }
  const rows = parameterRows(schema);
  const extra = extraParameters(schema);
  return (
    <>
      {rows.length === 0 ? (
        <p>The flow takes no parameters.</p>
      ) : (
        <table>
          <caption className="visually-hidden">Parameters of version {version.flow_version}</caption>
          <thead>
            <tr>
              <th scope="col">Parameter</th>
              <th scope="col">Type</th>
              <th scope="col">Required</th>
              <th scope="col">Default</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name}>
                <td><code>{row.name}</code>{row.description && <div className="fl-muted">{row.description}</div>}</td>
                <td><code>{row.type}</code></td>
                <td>{row.required ? "required" : "optional"}</td>
                <td>{row.defaultValue === undefined ? "—" : <code>{row.defaultValue}</code>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {extra && <p>Parameters the schema does not name are accepted too (a code flow's <code>**kwargs</code>), of type <code>{extra}</code>.</p>}
      <details>
        <summary>JSON Schema</summary>
        <pre className="fl-code"><code>{JSON.stringify(schema, null, 2)}</code></pre>
      </details>
    </>
  );
}
