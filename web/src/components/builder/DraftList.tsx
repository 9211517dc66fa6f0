// The org's latest drafts, newest first, to pick up where someone left off.
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, retryTransient, session, unwrap } from "../../api/client";
import { ErrorNote } from "../common";
import { when } from "../StatusBadge";

export function DraftList({ current }: { current: string | undefined }) {
  const drafts = useQuery({
    queryKey: ["dag-drafts", session.orgId()],
    queryFn: async () => unwrap(await api.GET("/v1/dag-drafts", { params: { query: { limit: 10 } } })),
    retry: retryTransient,
  });
  const others = drafts.data?.items.filter((d) => d.draft_id !== current) ?? [];
  return (
    <section aria-labelledby="bld-drafts">
      <h2 id="bld-drafts">Drafts</h2>
      <ErrorNote error={drafts.error} />
      {drafts.isSuccess && others.length === 0 && <p className="muted">No other drafts. Every builder canvas is saved as one as you work.</p>}
      <ul className="plain bld-drafts">
        {others.map((d) => (
          <li key={d.draft_id}>
            <Link to={`/builder/${d.draft_id}`}>{d.name}</Link> <span className="muted">· {when(d.updated_at)}</span>
          </li>
        ))}
      </ul>
      <p><Link to="/builder">Start a new flow</Link></p>
    </section>
  );
}
