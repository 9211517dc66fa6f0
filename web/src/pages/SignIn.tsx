import { useState } from "react";
import { useLocation, useNavigate } from "react-router";
import { api, session } from "../api/client";

/** The login mode (docs/authentication.md) is the server's: `dagy server` writes it into the page
 * as <meta name="dagy-auth-mode">; without it (the Vite dev server) an email-only attempt that the
 * server answers "A password is required" shows the password field. */
function initialMode(): "email" | "password" {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="dagy-auth-mode"]');
  return meta?.content === "password" ? "password" : "email";
}

export function SignIn() {
  const [mode, setMode] = useState(initialMode);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const from = (useLocation().state as { from?: string } | null)?.from ?? "/dashboard";

  async function submit(event: React.FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    const body = mode === "password" ? { email, password } : { email };
    const { data, error: failed, response } = await api.POST("/v1/auth/login", { body });
    setBusy(false);
    if (data) {
      session.signIn(data.access_token);
      navigate(from, { replace: true });
      return;
    }
    const details = (failed as { details?: Record<string, unknown> } | undefined)?.details;
    if (response.status === 400 && details && "password" in details) {
      setMode("password");
      setError("This server signs in with a password.");
      return;
    }
    setError((failed as { message?: string } | undefined)?.message ?? `Sign-in failed (${response.status}).`);
  }

  return (
    <main className="signin">
      <form onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Dagy</h1>
        <label htmlFor="email">Email</label>
        <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
        {mode === "password" && (
          <>
            <label htmlFor="password">Password</label>
            <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </>
        )}
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="button primary" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
      </form>
    </main>
  );
}
