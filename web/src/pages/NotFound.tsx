import { Link, useLocation } from "react-router";

export function NotFound() {
  const { pathname } = useLocation();
  return (
    <section aria-labelledby="not-found">
      <h1 id="not-found">Page not found</h1>
      <p>
        There is no page at <code>{pathname}</code>. Go to the <Link to="/dashboard">dashboard</Link>, or see the{" "}
        <a href="/v1/docs">API reference</a>.
      </p>
    </section>
  );
}
