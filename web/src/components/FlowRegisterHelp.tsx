// How a newcomer registers a first flow: the `dagy` CLI with a code flow (@flow/@task, the SDK),
// or one call to the API with a DAG spec (README "First steps", docs/cli.md).
import { Link } from "react-router";
import { session } from "../api/client";
import { CopyButton } from "./common";

function cliCommands(): string {
  return `dagy login --url ${window.location.origin} --email you@example.com --org ${session.orgId() ?? "$ORG_ID"}
dagy init hello && cd hello     # hello_flow.py: a flow written with @flow and @task
dagy deploy                     # uploads it and registers version 1`;
}

function apiCall(): string {
  return `curl -X POST ${window.location.origin}/v1/flows \\
  -H "Authorization: Bearer $TOKEN" -H "X-Org-Id: ${session.orgId() ?? "$ORG_ID"}" \\
  -H 'content-type: application/json' -d '{
  "flow_name": "hello",
  "flow_spec": {"nodes": [{"id": "add", "type": "python_function",
    "data": {"code": "def main(inputs, params):\\n    return {\\"sum\\": params[\\"a\\"] + params[\\"b\\"]}\\n"}}],
    "edges": []}}'`;
}

export function FlowRegisterHelp() {
  const cli = cliCommands();
  const call = apiCall();
  return (
    <>
      <p>A flow is registered from code, not drawn here. Either way, it shows up in this list at once.</p>
      <h3>With the <code>dagy</code> command</h3>
      <p>Write the flow in Python with the SDK's <code>@flow</code> and <code>@task</code>, then deploy the project folder:</p>
      <pre className="fl-code"><code>{cli}</code></pre>
      <CopyButton value={cli} label="Copy the commands" />
      <h3>With the API</h3>
      <p>Register a DAG of nodes with <code>POST /v1/flows</code> (an <Link to="/settings/api-keys">API key</Link> works as the token):</p>
      <pre className="fl-code"><code>{call}</code></pre>
      <CopyButton value={call} label="Copy the API call" />
      <p>
        Every command is in <code>docs/cli.md</code>, the SDK in <code>docs/sdk.md</code>, and the API's interactive reference at{" "}
        <a href="/v1/docs">/v1/docs</a>.
      </p>
    </>
  );
}
