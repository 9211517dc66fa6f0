import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { NavLink, useNavigate } from "react-router";
import { session } from "../../api/client";
import { studioApi } from "../../lib/aiStudioApi";
import { EmptyState, ErrorNote } from "../common";
import { when } from "../StatusBadge";

export const studioKeys = {
  all: () => ["ai-studio", session.orgId()] as const,
  sessions: (archived: boolean) => ["ai-studio", session.orgId(), "sessions", archived] as const,
  session: (sessionId: string) => ["ai-studio", session.orgId(), "session", sessionId] as const,
  tiers: () => ["ai-studio", session.orgId(), "tiers"] as const,
};

/** Creates a session and opens it; `draft` (a template's prompt) waits in its composer, unsent. */
export function useCreateSession() {
  const queries = useQueryClient();
  const navigate = useNavigate();
  return useMutation({
    mutationFn: (_draft?: string) => studioApi.create(),
    onSuccess: (created, draft) => {
      queries.setQueryData(studioKeys.session(created.session_id), created);
      void queries.invalidateQueries({ queryKey: [...studioKeys.all(), "sessions"] });
      navigate(`/ai-studio/${created.session_id}`, { state: draft ? { draft } : undefined });
    },
  });
}

/** The caller's own sessions (a session is personal: nobody else in the org sees it), newest first. */
export function SessionList({ current }: { current: string | undefined }) {
  const [archived, setArchived] = useState(false);
  const sessions = useQuery({ queryKey: studioKeys.sessions(archived), queryFn: () => studioApi.sessions(archived) });
  const create = useCreateSession();
  const items = sessions.data?.items ?? [];
  return (
    <nav className="studio-sessions" aria-labelledby="studio-sessions-title">
      <div className="studio-sessions-head">
        <h2 id="studio-sessions-title">Sessions</h2>
        <button type="button" className="button primary small" disabled={create.isPending} onClick={() => create.mutate(undefined)}>
          {create.isPending ? "Creating…" : "New session"}
        </button>
      </div>
      <ErrorNote error={create.error} />
      <label className="studio-inline">
        <input type="checkbox" checked={archived} onChange={(e) => setArchived(e.target.checked)} /> Show archived
      </label>
      {sessions.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={sessions.error} />
      {sessions.isSuccess && items.length === 0 && (
        <EmptyState title="No sessions yet">
          <p>
            Press <strong>New session</strong>, then describe the workflow you want in plain words, e.g. “Read JSON from
            s3://my-bucket/raw/, validate it, deduplicate by id and write it back to S3”.
          </p>
        </EmptyState>
      )}
      {items.length > 0 && (
        <ul>
          {items.map((s) => (
            <li key={s.session_id}>
              <NavLink
                to={`/ai-studio/${s.session_id}`}
                className={s.session_id === current ? "active" : undefined}
                aria-current={s.session_id === current ? "page" : undefined}
              >
                <span className="studio-session-title">{s.title}</span>
                <span className="studio-session-meta">
                  {s.turn_count} {s.turn_count === 1 ? "turn" : "turns"} · {when(s.updated_at)}
                  {s.status === "archived" && <> · archived</>}
                </span>
              </NavLink>
            </li>
          ))}
        </ul>
      )}
    </nav>
  );
}
