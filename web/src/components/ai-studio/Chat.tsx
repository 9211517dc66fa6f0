import { useQuery } from "@tanstack/react-query";
import { useEffect, useId, useRef, useState } from "react";
import { api, unwrap } from "../../api/client";
import type { LiveTurn } from "../../lib/aiStudio";
import { credits } from "../../lib/aiStudio";
import type { StudioSession, Turn } from "../../lib/aiStudioApi";
import { EmptyState, ErrorNote } from "../common";

const STATUS_WORDS: Record<string, string> = {
  generated: "built a workflow",
  modified: "changed the workflow",
  unchanged: "nothing to change",
  advisory: "answer",
  invalid: "no valid workflow",
};

/**
 * The conversation: each stored turn (your message, the studio's answer), the turn being answered
 * (its stage, then its reply as the tokens arrive), and the composer. `onSend` answers whether the
 * turn was accepted; a refused one (402 out of credits, ...) keeps its text in the composer.
 */
export function Chat({
  studio,
  live,
  sending,
  error,
  onSend,
  initialDraft,
}: {
  studio: StudioSession;
  live: LiveTurn | null;
  sending: boolean;
  error: unknown;
  onSend: (message: string) => Promise<boolean>;
  initialDraft: string;
}) {
  const [draft, setDraft] = useState(initialDraft);
  const inputId = useId();
  const input = useRef<HTMLTextAreaElement>(null);
  const log = useRef<HTMLOListElement>(null);
  const archived = studio.status === "archived";
  // Keep the newest words in view while the reply streams in.
  useEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [studio.turns.length, live?.text, live?.stage]);

  async function submit() {
    const message = draft.trim();
    if (!message || sending) return;
    setDraft("");
    if (!(await onSend(message))) setDraft(message);
  }

  return (
    <section className="studio-chat" aria-labelledby="studio-chat-title">
      <h2 id="studio-chat-title" className="visually-hidden">Conversation</h2>
      {studio.turns.length === 0 && !live ? (
        <Examples onPick={(prompt) => { setDraft(prompt); input.current?.focus(); }} />
      ) : (
        <ol className="studio-log" ref={log} aria-label="Messages">
          {studio.turns.map((turn) => <StoredTurn key={turn.turn_id} turn={turn} />)}
          {live && (
            <>
              <li className="studio-msg user"><p>{live.message}</p></li>
              <li className="studio-msg assistant" aria-busy={!live.answer && !live.error}>
                {live.stage && <p className="studio-stage" role="status">{live.stage}</p>}
                {live.text && <p className="studio-text studio-live-text" aria-label="Reply">{live.text}</p>}
                {live.error && <ErrorNote error={new Error(live.error.message)} />}
              </li>
            </>
          )}
        </ol>
      )}
      <form
        className="studio-composer"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label htmlFor={inputId}>Message</label>
        <textarea
          id={inputId}
          ref={input}
          rows={3}
          maxLength={8000}
          value={draft}
          disabled={archived}
          placeholder={archived ? "This session is archived: start a new one to keep working." : "Describe a workflow, ask to change it, or ask a question"}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={(e) => {
            // Enter sends, Shift+Enter starts a new line (as in most chats).
            if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
              e.preventDefault();
              void submit();
            }
          }}
        />
        <ErrorNote error={error} />
        <div className="studio-composer-actions">
          <span className="hint">Enter sends; Shift+Enter for a new line.</span>
          <button type="submit" className="button primary" disabled={archived || sending || !draft.trim()}>
            {sending ? "Sending…" : "Send"}
          </button>
        </div>
      </form>
    </section>
  );
}

function StoredTurn({ turn }: { turn: Turn }) {
  const status = turn.workflow_status ?? turn.status;
  return (
    <>
      <li className="studio-msg user"><p>{turn.message}</p></li>
      <li className="studio-msg assistant">
        {turn.response ? <p className="studio-text">{turn.response}</p> : <p className="muted">Still being answered…</p>}
        <p className="studio-msg-meta">
          <span className={turn.status === "invalid" ? "error" : undefined}>{STATUS_WORDS[status] ?? status}</span>
          {" · "}{credits(turn.credits_used)} {turn.credits_used === 1 ? "credit" : "credits"}
        </p>
      </li>
    </>
  );
}

/** A first-time session: what to type, with the studio's own templates and examples to start from. */
function Examples({ onPick }: { onPick: (prompt: string) => void }) {
  const content = useQuery({
    queryKey: ["ui", "ai-studio"],
    queryFn: async () => unwrap(await api.GET("/v1/ui/ai-studio")),
    staleTime: Infinity,
  });
  const prompts = [
    ...(content.data?.templates ?? []).map((t) => ({ title: t.title, prompt: t.prompt })),
    ...(content.data?.examples ?? []).map((e) => ({ title: e.title, prompt: e.prompt })),
  ];
  return (
    <EmptyState title="Describe the workflow you want">
      <p>
        Say where the data comes from, what to do with it and where it goes, e.g. “Read CSV files from s3://acme-raw/orders/,
        check that each record has order_id and email, deduplicate by order_id and write parquet to s3://acme-clean/orders/”.
        The studio draws the workflow as it builds it; ask for changes in the next message. Attach a sample data file and it
        uses the records' fields.
      </p>
      <ErrorNote error={content.error} />
      {prompts.length > 0 && (
        <ul className="studio-examples">
          {prompts.map((p) => (
            <li key={p.title}>
              <button type="button" className="button" title={p.prompt} onClick={() => onPick(p.prompt)}>
                {p.title}
              </button>
            </li>
          ))}
        </ul>
      )}
    </EmptyState>
  );
}
