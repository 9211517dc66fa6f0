import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { useLocation, useParams } from "react-router";
import { RequestFailed, retryTransient } from "../api/client";
import { Attachments } from "../components/ai-studio/Attachments";
import { Chat } from "../components/ai-studio/Chat";
import { SessionHeader } from "../components/ai-studio/SessionHeader";
import { SessionList, studioKeys, useCreateSession } from "../components/ai-studio/SessionList";
import { WorkflowPanel } from "../components/ai-studio/WorkflowPanel";
import "../components/ai-studio/ai-studio.css";
import { EmptyState, ErrorNote } from "../components/common";
import { newTurnId, type LiveTurn } from "../lib/aiStudio";
import { streamTurn, studioApi, type StudioSession } from "../lib/aiStudioApi";

/**
 * AI Studio: your sessions on the left; the open one's conversation, and the workflow it builds
 * drawn live beside it. `/ai-studio` with no session shows how to start.
 */
export function AiStudio() {
  const { sessionId } = useParams();
  return (
    <div className="studio">
      <SessionList current={sessionId} />
      {sessionId ? <StudioSessionView key={sessionId} sessionId={sessionId} /> : <Start />}
    </div>
  );
}

function Start() {
  const create = useCreateSession();
  return (
    <section className="studio-start" aria-labelledby="studio-start-title">
      <h1 id="studio-start-title">AI Studio</h1>
      <p className="lead">
        Describe a workflow in plain words and the studio builds it: the steps drawn as a graph, checked by the same validator
        that registers flows, with its Python and YAML. Change it by asking, open it in the builder, or register it as a flow.
        Each message costs credits by the model tier you choose.
      </p>
      <button type="button" className="button primary" disabled={create.isPending} onClick={() => create.mutate(undefined)}>
        Start a session
      </button>
      <ErrorNote error={create.error} />
    </section>
  );
}

function StudioSessionView({ sessionId }: { sessionId: string }) {
  const queries = useQueryClient();
  const location = useLocation();
  const studio = useQuery({
    queryKey: studioKeys.session(sessionId),
    queryFn: () => studioApi.session(sessionId),
    retry: retryTransient,
  });
  const [live, setLive] = useState<LiveTurn | null>(null);
  const [sending, setSending] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const draft = (location.state as { draft?: string } | null)?.draft ?? "";

  // Leaving the session mid-turn stops reading the stream (the server still answers and stores
  // the turn, so it is in the history when the session is opened again).
  const reading = useRef<AbortController | null>(null);
  useEffect(() => () => reading.current?.abort(), []);

  async function send(message: string): Promise<boolean> {
    setError(null);
    setSending(true);
    const abort = (reading.current = new AbortController());
    try {
      const final = await streamTurn(sessionId, message, newTurnId(), setLive, abort.signal);
      if (final.error) setError(new RequestFailed(0, final.error));
      // The stored turn, the new canvas and artifacts, the credits spent: read back, then the
      // live turn gives way to the history.
      await Promise.all([
        queries.refetchQueries({ queryKey: studioKeys.session(sessionId) }),
        queries.invalidateQueries({ queryKey: studioKeys.tiers() }),
        queries.invalidateQueries({ queryKey: [...studioKeys.all(), "sessions"] }),
      ]);
      setLive(null);
      return !final.error;
    } catch (e) {
      if (abort.signal.aborted) return false;
      setLive(null);
      setError(e);
      return false;
    } finally {
      setSending(false);
    }
  }

  if (studio.isPending) return <p aria-busy="true">Loading…</p>;
  if (studio.error) {
    const missing = studio.error instanceof RequestFailed && studio.error.status === 404;
    return missing ? (
      <EmptyState title="No such session">
        <p>It was deleted, or it is someone else's: a session is seen only by the person who created it. Pick one on the left or start a new one.</p>
      </EmptyState>
    ) : (
      <ErrorNote error={studio.error} />
    );
  }
  const data: StudioSession | undefined = studio.data;
  if (!data) return null;
  const canvas = live?.canvas ?? data.canvas_state;
  const validation = live ? live.validation : data.artifacts.validation;
  return (
    <div className="studio-main">
      <SessionHeader studio={data} />
      <div className="studio-panes">
        <div className="studio-left">
          <Chat studio={data} live={live} sending={sending} error={error} onSend={send} initialDraft={draft} />
          <Attachments studio={data} />
        </div>
        <WorkflowPanel studio={data} canvas={canvas} validation={validation} building={sending} />
      </div>
    </div>
  );
}
