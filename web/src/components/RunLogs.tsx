import { memo, useDeferredValue, useEffect, useId, useLayoutEffect, useMemo, useRef, useState } from "react";
import { api, type ApiError } from "../api/client";
import { highlight, keepLastLines, logLevel, logTime, matches, searchPattern, type LogChunk as Chunk } from "../lib/runsLogs";
import "../pages/runs.css";

const PAGE = 1000;
/** Lines kept in the page; older ones are dropped from the view (never from the server). */
const MAX_LINES = 20_000;
const IDLE_POLL_MS = 1000;
/** While the tab is hidden, and after a failed read. */
const SLOW_POLL_MS = 5000;

/**
 * Follows the run's log: pages of `/logs` after `next_token`, at once while pages come back full,
 * every second while the run may still write (the server hands a token back while it is queued or
 * running), and stops when it answers no token.
 */
function useLogStream(runId: string) {
  const [chunks, setChunks] = useState<Chunk[]>([]);
  const [streaming, setStreaming] = useState(true);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let token: string | undefined;
    let count = 0;
    setChunks([]);
    setStreaming(true);
    setError(null);
    async function read() {
      try {
        const { data, error } = await api.GET("/v1/runs/{run_id}/logs", {
          params: { path: { run_id: runId }, query: { next_token: token, limit: PAGE } },
        });
        return data ?? new Error((error as ApiError | undefined)?.message ?? "Could not read the log.");
      } catch {
        return new Error("Could not reach the server to read the log.");
      }
    }
    async function poll() {
      const data = await read();
      if (stopped) return;
      if (data instanceof Error) {
        setError(data.message);
        timer = setTimeout(poll, SLOW_POLL_MS);
        return;
      }
      setError(null);
      if (data.events.length) {
        const chunk = { first: count + 1, events: data.events };
        count += data.events.length;
        setChunks((old) => keepLastLines([...old, chunk], MAX_LINES));
      }
      if (!data.next_token) {
        setStreaming(false);
        return;
      }
      token = data.next_token;
      timer = setTimeout(poll, data.events.length === PAGE ? 0 : document.hidden ? SLOW_POLL_MS : IDLE_POLL_MS);
    }
    void poll();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [runId]);

  return { chunks, streaming, error };
}

/** The run's log, streamed while the run runs: follow mode scrolls to new lines; search filters and highlights. */
export function RunLogs({ runId }: { runId: string }) {
  const { chunks, streaming, error } = useLogStream(runId);
  const [following, setFollowing] = useState(true);
  const [query, setQuery] = useState("");
  const [onlyMatches, setOnlyMatches] = useState(true);
  const deferredQuery = useDeferredValue(query);
  const pattern = useMemo(() => searchPattern(deferredQuery), [deferredQuery]);
  const box = useRef<HTMLDivElement>(null);
  const searchId = useId();

  const total = chunks.reduce((n, c) => n + c.events.length, 0);
  const dropped = chunks.length ? chunks[0].first - 1 : 0;
  const matching = useMemo(
    () => (pattern ? chunks.reduce((n, c) => n + c.events.filter((e) => matches(e.message, pattern)).length, 0) : total),
    [chunks, pattern, total],
  );

  useLayoutEffect(() => {
    if (following && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [chunks, following, pattern, onlyMatches]);

  function onScroll() {
    const el = box.current;
    if (el && following && el.scrollHeight - el.scrollTop - el.clientHeight > 40) setFollowing(false);
  }

  return (
    <section aria-labelledby="logs-title" className="run-logs-section">
      <div className="run-logs-head">
        <h2 id="logs-title">Logs</h2>
        <span className="muted">
          {streaming ? "Streaming" : "Complete"} · {total.toLocaleString()} lines
          {pattern && <>, {matching.toLocaleString()} matching</>}
        </span>
        <label className="run-inline">
          <input type="checkbox" checked={following} onChange={(e) => setFollowing(e.target.checked)} />
          Follow new lines
        </label>
        <label htmlFor={searchId} className="visually-hidden">Search the log</label>
        <input
          id={searchId}
          type="search"
          placeholder="Search the log"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
        />
        <label className="run-inline">
          <input type="checkbox" checked={onlyMatches} onChange={(e) => setOnlyMatches(e.target.checked)} disabled={!query} />
          Only matching lines
        </label>
      </div>
      {error && <p role="alert" className="error">{error} Retrying…</p>}
      {dropped > 0 && <p className="muted">The first {dropped.toLocaleString()} lines are not shown here (the page keeps the last {MAX_LINES.toLocaleString()}); <code>dagy runs logs {runId}</code> prints them all.</p>}
      <div ref={box} className="run-logs" role="region" aria-label="Log lines" tabIndex={0} onScroll={onScroll}>
        {total === 0 ? (
          <p className="muted">{streaming ? "Waiting for the first log line…" : "This run wrote no log lines."}</p>
        ) : matching === 0 && onlyMatches ? (
          <p className="muted">No line matches “{deferredQuery}”.</p>
        ) : (
          chunks.map((chunk) => <LogLines key={chunk.first} chunk={chunk} pattern={pattern} onlyMatches={onlyMatches} />)
        )}
      </div>
    </section>
  );
}

/** One page of lines; memoized, so a new page renders only itself. */
const LogLines = memo(function LogLines({ chunk, pattern, onlyMatches }: { chunk: Chunk; pattern: RegExp | null; onlyMatches: boolean }) {
  return chunk.events.map((event, i) => {
    if (onlyMatches && !matches(event.message, pattern)) return null;
    return (
      <div key={i} className={`log-line level-${logLevel(event.message)}`}>
        <span className="log-number" aria-hidden="true">{chunk.first + i}</span>
        <time className="log-time" dateTime={event.timestamp}>{logTime(event.timestamp)}</time>
        <span className="log-message">
          {highlight(event.message, pattern).map((part, j) => (part.match ? <mark key={j}>{part.text}</mark> : part.text))}
        </span>
      </div>
    );
  });
});
