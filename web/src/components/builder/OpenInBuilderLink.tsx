// "Open in builder" for a version on a flow's page (/flows/:flowName): the builder copies the
// version's spec into a new draft.
import { Link, useParams } from "react-router";

export function OpenInBuilderLink({ version }: { version: string }) {
  const { flowName } = useParams();
  if (!flowName) return null;
  return (
    <Link to={`/builder?flow=${encodeURIComponent(flowName)}&version=${encodeURIComponent(version)}`} aria-label={`Open version ${version} in the builder`}>
      Open in builder
    </Link>
  );
}
