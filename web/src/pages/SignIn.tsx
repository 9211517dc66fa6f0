import { useEffect, useMemo, useState } from "react";
import { useLocation, useNavigate } from "react-router";
import { api, session } from "../api/client";
import { parseSsoFragment, ssoLoginHref } from "../lib/sso";

type Mode = "email" | "password" | "oidc";

/** The login mode (docs/authentication.md) is the server's: `dagy server` writes it into the page
 * as <meta name="dagy-auth-mode">; without it (the Vite dev server) an email-only attempt that the
 * server answers "A password is required" shows the password field, and one it answers
 * `sso_required` shows the single sign-on link. */
function initialMode(): Mode {
  const content = document.querySelector<HTMLMetaElement>('meta[name="dagy-auth-mode"]')?.content;
  return content === "password" || content === "oidc" ? content : "email";
}

export function SignIn() {
  const [mode, setMode] = useState(initialMode);
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/dashboard";
  // Back from single sign-on: the server's callback put the session token in the fragment.
  const handed = useMemo(() => parseSsoFragment(location.hash), [location.hash]);

  useEffect(() => {
    if (!handed) return;
    session.signIn(handed.token);
    navigate(handed.returnTo, { replace: true });
  }, [handed, navigate]);

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
    const { error: code, details, message } = (failed ?? {}) as { error?: string; details?: Record<string, unknown>; message?: string };
    if (response.status === 400 && details && "password" in details) {
      setMode("password");
      setError("This server signs in with a password.");
      return;
    }
    if (code === "sso_required") {
      setMode("oidc");
      return;
    }
    setError(message ?? `Sign-in failed (${response.status}).`);
  }

  if (handed) {
    return (
      <main className="signin">
        <p aria-busy="true">Signing in…</p>
      </main>
    );
  }

  if (mode === "oidc") {
    return (
      <main className="signin">
        <form aria-labelledby="signin-title" onSubmit={(event) => event.preventDefault()}>
          <h1 id="signin-title">Sign in to Dagy</h1>
          <p>This server signs you in through your organization's identity provider.</p>
          <a className="button primary" href={ssoLoginHref(from)}>
            Sign in with SSO
          </a>
        </form>
      </main>
    );
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
