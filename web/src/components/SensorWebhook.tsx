// A webhook sensor's URL (its token is the credential) with a copy button and a curl example.
import { webhookCurl, webhookUrl } from "../lib/sensor";
import { CopyButton } from "./common";

export function SensorWebhook({ token, enabled }: { token: string; enabled: boolean }) {
  const url = webhookUrl(window.location.origin, token);
  const curl = webhookCurl(url);
  return (
    <section aria-labelledby="sensor-webhook-title" className="card sensor-webhook">
      <h2 id="sensor-webhook-title">Webhook URL</h2>
      <p className="sch-hint">
        POST any JSON (up to 1 MB) to this URL; each request runs the flow with the body as the parameter <code>event</code>. The token
        in it is the credential: keep it like a password. To change it, create a new sensor and delete this one.
      </p>
      {!enabled && <p className="sch-note">The sensor is disabled: its URL answers 404 until you enable it.</p>}
      <div className="sensor-copy-row">
        <code className="sensor-url">{url}</code>
        <CopyButton value={url} label="Copy URL" />
      </div>
      <h3>Example</h3>
      <pre className="sensor-curl"><code>{curl}</code></pre>
      <CopyButton value={curl} label="Copy curl command" />
    </section>
  );
}
