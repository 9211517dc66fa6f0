// A flow's versions, newest first; each links to itself (`?version=`) to be viewed.
import { Link } from "react-router";
import type { Schemas } from "../api/client";
import { StatusBadge, when } from "./StatusBadge";
import { OpenInBuilderLink } from "./builder/OpenInBuilderLink";

export function FlowVersions({ versions, viewing }: { versions: Schemas["FlowVersionItem"][]; viewing: string }) {
  return (
    <div className="fl-versions">
      <table>
        <caption className="visually-hidden">Versions, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Status</th>
            <th scope="col">Registered</th>
          </tr>
        </thead>
        <tbody>
          {versions.map((v) => {
            const current = v.flow_version === viewing;
            return (
              <tr key={v.flow_version} aria-current={current ? "true" : undefined}>
                <td>
                  {current ? (
                    <strong>{v.flow_version} <span className="fl-muted">(shown)</span></strong>
                  ) : (
                    <Link to={`?version=${encodeURIComponent(v.flow_version)}`} aria-label={`View version ${v.flow_version}`}>
                      {v.flow_version}
                    </Link>
                  )}{" "}
                  <span className="fl-muted">#{v.deployment_version}</span>{" "}
                  <OpenInBuilderLink version={v.flow_version} />
                </td>
                <td><StatusBadge status={v.status} /></td>
                <td>{when(v.created_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
