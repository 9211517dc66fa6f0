// The notifications page's pure logic: each channel type's config fields (notifications/channels.py
// on the server), a channel form as `config_json`, and an alert rule form as the API's body.
import type { Schemas } from "../api/client";

export type ChannelType = Schemas["ChannelCreate"]["channel_type"];
export type Trigger = Schemas["AlertRuleCreate"]["trigger"];

export const CHANNEL_TYPES: Record<ChannelType, string> = {
  slack: "Slack",
  email: "Email",
  webhook: "Webhook",
  pagerduty: "PagerDuty",
};

/** How a field is typed in and sent: text as is, a list one item a line, a number, a secret
 * (a password input; the API masks it in every answer), a choice, or `Name: value` header lines. */
export type FieldKind = "text" | "url" | "secret" | "list" | "number" | "select" | "headers";
export type ChannelField = { name: string; label: string; kind: FieldKind; required?: boolean; hint?: string; options?: string[]; placeholder?: string; initial?: string };

export const CHANNEL_FIELDS: Record<ChannelType, ChannelField[]> = {
  slack: [
    { name: "webhook_url", label: "Incoming webhook URL", kind: "secret", required: true, hint: "https://hooks.slack.com/services/…; kept encrypted and masked once saved." },
    { name: "channel", label: "Channel override (optional)", kind: "text", placeholder: "#alerts" },
  ],
  email: [
    { name: "to", label: "Recipients", kind: "list", required: true, hint: "One address a line (up to 50)." },
    { name: "from_address", label: "From address (optional)", kind: "text", hint: "Default: the server's DAGY_SMTP_FROM." },
    { name: "smtp_host", label: "SMTP host (optional)", kind: "text", hint: "Leave empty to send through the server's own SMTP settings." },
    { name: "smtp_port", label: "SMTP port", kind: "number", placeholder: "587" },
    { name: "smtp_username", label: "SMTP username (optional)", kind: "text" },
    { name: "smtp_password", label: "SMTP password (optional)", kind: "secret" },
  ],
  webhook: [
    { name: "url", label: "URL", kind: "url", required: true, hint: "Receives a JSON POST for each alert." },
    { name: "headers", label: "Headers (optional)", kind: "headers", hint: "One “Name: value” a line (up to 20); values are masked once saved." },
    { name: "secret", label: "Signing secret (optional)", kind: "secret", hint: "Signs every delivery (X-Dagy-Signature header)." },
  ],
  pagerduty: [
    { name: "routing_key", label: "Routing key", kind: "secret", required: true, hint: "The Events API v2 integration key of the service." },
    { name: "severity", label: "Severity", kind: "select", options: ["critical", "error", "warning", "info"], initial: "error" },
    { name: "events_url", label: "Events API URL (optional)", kind: "url", hint: "Another Events API v2 endpoint (a proxy); default PagerDuty's." },
  ],
};

export type FormValues = Record<string, string>;

/** The values a new form of `type` starts with (a choice starts at the API's default). */
export function initialValues(type: ChannelType): FormValues {
  return Object.fromEntries(CHANNEL_FIELDS[type].map((f) => [f.name, f.initial ?? ""]));
}

/** `Name: value` lines as an object; a line without a colon is kept under its whole text, so the
 * server names it as a bad header rather than it being dropped silently. */
export function parseHeaders(text: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const colon = line.indexOf(":");
    if (colon < 0) headers[line.trim()] = "";
    else headers[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** The form as `config_json`: empty optional fields left out (the API's defaults apply), lists
 * split by line or comma, numbers as numbers (text that is not one is sent as typed, for the
 * server to name). */
export function channelConfig(type: ChannelType, values: FormValues): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const field of CHANNEL_FIELDS[type]) {
    const raw = values[field.name] ?? "";
    const text = field.kind === "secret" ? raw : raw.trim();
    if (!text.trim()) continue;
    if (field.kind === "list") config[field.name] = text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean);
    else if (field.kind === "headers") config[field.name] = parseHeaders(text);
    else if (field.kind === "number") config[field.name] = Number.isFinite(Number(text)) ? Number(text) : text;
    else config[field.name] = text;
  }
  return config;
}

/** A stored (masked) config as short `field: value` facts for the channel list. */
export function configFacts(config: Record<string, unknown>): [string, string][] {
  return Object.entries(config).map(([key, value]) => [
    key,
    Array.isArray(value) ? value.join(", ") : value && typeof value === "object" ? Object.entries(value).map(([k, v]) => `${k}: ${v}`).join(", ") : String(value),
  ]);
}

export const TRIGGERS: Record<Trigger, string> = {
  on_failure: "A run fails",
  on_success: "A run succeeds",
  on_retry: "A run is retried",
  on_sla_breach: "A run exceeds its SLA",
  on_waiting: "A run waits for an approval",
};

export type RuleForm = { name: string; trigger: Trigger; flowName: string; channelIds: string[]; slaMinutes: string; enabled: boolean };

export const emptyRule = (): RuleForm => ({ name: "", trigger: "on_failure", flowName: "", channelIds: [], slaMinutes: "", enabled: true });

/** What is wrong with the rule form, by field; empty when it can be sent. */
export function ruleFormErrors(form: RuleForm): Partial<Record<keyof RuleForm, string>> {
  const errors: Partial<Record<keyof RuleForm, string>> = {};
  if (!form.name.trim()) errors.name = "Give the rule a name.";
  if (form.channelIds.length === 0) errors.channelIds = "Choose at least one channel.";
  if (form.trigger === "on_sla_breach") {
    const minutes = Number(form.slaMinutes);
    if (!form.slaMinutes.trim() || !Number.isFinite(minutes) || minutes <= 0) errors.slaMinutes = "How many minutes a run may take.";
  }
  return errors;
}

/** The body of `POST /v1/alert-rules`: no flow is every flow; only an SLA rule has `sla_seconds`. */
export function ruleBody(form: RuleForm): Schemas["AlertRuleCreate"] {
  return {
    name: form.name.trim(),
    trigger: form.trigger,
    channel_ids: form.channelIds,
    flow_name: form.flowName.trim() || null,
    sla_seconds: form.trigger === "on_sla_breach" ? Math.max(1, Math.round(Number(form.slaMinutes) * 60)) : null,
    enabled: form.enabled,
  };
}
