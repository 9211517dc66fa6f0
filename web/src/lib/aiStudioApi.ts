// AI Studio's requests, through the typed client: its middleware adds the session's headers (and a
// super admin's impersonation header, adminSession.ts) and signs the browser out on a 401, and
// `unwrap` turns a refusal into RequestFailed. The streamed turn goes through it too, its body
// read as a stream (`parseAs: "stream"`): EventSource cannot POST or send headers.
import { api, RequestFailed, unwrap, type ApiError, type Schemas } from "../api/client";
import { applyEvent, sseReader, startTurn, type LiveTurn } from "./aiStudio";

export type StudioSession = Schemas["AiStudioSessionRead"];
export type Turn = Schemas["TurnRead"];
export type Attachment = Schemas["AttachmentRead"];

const session = (sessionId: string) => ({ params: { path: { session_id: sessionId } } });

export const studioApi = {
  tiers: async () => unwrap(await api.GET("/v1/ai-studio/tiers")),
  sessions: async (includeArchived: boolean) =>
    unwrap(await api.GET("/v1/ai-studio/sessions", { params: { query: { limit: 100, include_archived: includeArchived } } })),
  session: async (sessionId: string) => unwrap(await api.GET("/v1/ai-studio/sessions/{session_id}", session(sessionId))),
  /** A new session on the server's default tier. openapi-typescript makes a field with a default
   * required, answers always carrying it; a request may leave it out and get the default. */
  create: async (title?: string) =>
    unwrap(await api.POST("/v1/ai-studio/sessions", { body: (title ? { title } : {}) as Schemas["AiStudioSessionCreate"] })),
  rename: async (sessionId: string, title: string) =>
    unwrap(await api.PATCH("/v1/ai-studio/sessions/{session_id}/title", { ...session(sessionId), body: { title } })),
  setTier: async (sessionId: string, tier: string) =>
    unwrap(await api.PATCH("/v1/ai-studio/sessions/{session_id}/tier", { ...session(sessionId), body: { tier } })),
  archive: async (sessionId: string) => unwrap(await api.POST("/v1/ai-studio/sessions/{session_id}/archive", session(sessionId))),
  remove: async (sessionId: string) => unwrap(await api.DELETE("/v1/ai-studio/sessions/{session_id}", session(sessionId))),
  bindFlow: async (sessionId: string, flowName: string) =>
    unwrap(await api.POST("/v1/ai-studio/sessions/{session_id}/bind-flow", { ...session(sessionId), body: { flow_name: flowName } })),
  initiate: async (sessionId: string, file: Schemas["AttachmentInitiate"]) =>
    unwrap(await api.POST("/v1/ai-studio/sessions/{session_id}/attachments/initiate", { ...session(sessionId), body: file })),
  complete: async (sessionId: string, attachmentId: string, etag: string) =>
    unwrap(
      await api.POST("/v1/ai-studio/sessions/{session_id}/attachments/complete", {
        ...session(sessionId),
        body: { attachment_id: attachmentId, etag },
      }),
    ),
  removeAttachment: async (sessionId: string, attachmentId: string) =>
    unwrap(
      await api.DELETE("/v1/ai-studio/sessions/{session_id}/attachments/{attachment_id}", {
        params: { path: { session_id: sessionId, attachment_id: attachmentId } },
      }),
    ),
};

/**
 * Sends one turn to `.../messages/stream` and calls `onChange` with the turn after each event, as
 * it arrives. `turnId` goes as `turn_id` and `X-Idempotency-Key`, so sending it again replays
 * the stored answer instead of charging twice. A refusal before the stream (400, 402, 404, 409,
 * 429) throws RequestFailed with the API's message; the last state (with `answer` or `error`) is
 * returned.
 */
export async function streamTurn(
  sessionId: string,
  message: string,
  turnId: string,
  onChange: (turn: LiveTurn) => void,
  signal?: AbortSignal,
): Promise<LiveTurn> {
  const answer = await api.POST("/v1/ai-studio/sessions/{session_id}/messages/stream", {
    params: { path: { session_id: sessionId }, header: { "x-idempotency-key": turnId } },
    headers: { Accept: "text/event-stream" },
    // "auto" is the server's default intent too: the planner tells a build from a question.
    body: { message, intent: "auto", turn_id: turnId },
    // Left unread by the client (not parsed as JSON, which would wait for the whole answer).
    parseAs: "stream",
    signal,
  });
  unwrap(answer);
  // The body `parseAs: "stream"` answers as `data`, taken from the response itself: openapi-fetch
  // types `data` by `parseAs` only when it can infer the options, which a route with a required
  // body defeats (it types it as the schema's `string`).
  const body = answer.response.body;
  // A 200 always has a body; without one there is nothing to read and no answer to show.
  if (!body) throw new RequestFailed(answer.response.status, undefined);
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const sse = sseReader();
  let turn = startTurn(message);
  const take = (events: ReturnType<typeof sse.push>) => {
    if (!events.length) return;
    for (const event of events) turn = applyEvent(turn, event);
    onChange(turn);
  };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    take(sse.push(value));
  }
  take(sse.end());
  return turn;
}

/**
 * PUTs the file's bytes to the upload URL with XMLHttpRequest, whose upload progress fetch does
 * not report; answers the ETag the store gave. The URL is its own credential (a presigned S3 URL,
 * or the local store's signed `/v1/artifacts/uploads/.../parts/1`, which takes no bearer token),
 * so it goes outside the typed client and its headers.
 */
export function putFile(url: string, file: Blob, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress(1);
        resolve(xhr.getResponseHeader("ETag") ?? "");
        return;
      }
      let body: ApiError | undefined;
      try {
        body = JSON.parse(xhr.responseText) as ApiError;
      } catch {
        body = undefined;
      }
      reject(new RequestFailed(xhr.status, body));
    };
    xhr.onerror = () => reject(new Error("The upload failed: the connection was lost."));
    xhr.onabort = () => reject(new Error("The upload was cancelled."));
    signal?.addEventListener("abort", () => xhr.abort());
    xhr.send(file);
  });
}
