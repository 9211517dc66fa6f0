// The sensor form: its state per sensor type, what it checks before a request, and the bodies of
// POST and PATCH /v1/sensors (`config_json` by type: src/dagy/server/domains/sensors/config.py,
// docs/sensors.md). Secrets are referenced by name (`{"secret": "name"}`), never given as values.
import type { Schemas } from "../api/client";
import { parseParameters, type FieldProblems } from "./schedule";

export type SensorType = Schemas["SensorCreate"]["sensor_type"];
export type SecretRef = { secret: string; environment: string };
export type HeaderRow = { name: string; kind: "value" | "secret"; value: string; secret: SecretRef };

export const SENSOR_TYPES: { value: SensorType; label: string; hint: string }[] = [
  { value: "webhook", label: "Webhook", hint: "Runs the flow when a system POSTs JSON to the sensor's URL." },
  { value: "s3", label: "S3 objects", hint: "Runs the flow for each new object under a bucket prefix, or in Dagy's own object store." },
  { value: "polling", label: "Polled URL", hint: "Requests a URL on an interval and runs the flow when its answer changes." },
];

export function sensorTypeLabel(type: string): string {
  return SENSOR_TYPES.find((t) => t.value === type)?.label ?? type;
}

export const MIN_CHECK_SECONDS = 30;
export const MAX_CHECK_SECONDS = 7 * 24 * 3600;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/;
const REGION = /^[a-z0-9-]{1,32}$/;

export type SensorForm = {
  name: string;
  sensorType: SensorType;
  flowName: string;
  enabled: boolean;
  s3: {
    store: "s3" | "local";
    bucket: string;
    prefix: string;
    endpointUrl: string;
    region: string;
    accessKeyId: SecretRef;
    secretAccessKey: SecretRef;
    intervalSeconds: string;
    includeExisting: boolean;
    /** Kept as the sensor has them (only s3:ObjectCreated:* events exist). */
    events: string[] | null;
  };
  polling: {
    url: string;
    intervalSeconds: string;
    headers: HeaderRow[];
    conditionPath: string;
    /** A JSON value; text that is not JSON is taken as a string. Empty: any truthy match. */
    conditionEquals: string;
  };
  flowParams: string;
};

const noSecret = (): SecretRef => ({ secret: "", environment: "" });

export function newHeaderRow(): HeaderRow {
  return { name: "", kind: "value", value: "", secret: noSecret() };
}

export function newSensorForm(): SensorForm {
  return {
    name: "",
    sensorType: "webhook",
    flowName: "",
    enabled: true,
    s3: {
      store: "s3",
      bucket: "",
      prefix: "",
      endpointUrl: "",
      region: "",
      accessKeyId: noSecret(),
      secretAccessKey: noSecret(),
      intervalSeconds: "60",
      includeExisting: false,
      events: null,
    },
    polling: { url: "", intervalSeconds: "60", headers: [], conditionPath: "", conditionEquals: "" },
    flowParams: "{}",
  };
}

function isRef(value: unknown): value is { secret: string; environment?: string | null } {
  return typeof value === "object" && value !== null && "secret" in value;
}

function refForm(value: unknown): SecretRef {
  return isRef(value) ? { secret: value.secret, environment: value.environment ?? "" } : noSecret();
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** The form for an existing sensor (its config read back field by field). */
export function formFromSensor(sensor: Schemas["SensorRead"]): SensorForm {
  const form = newSensorForm();
  const config = sensor.config_json;
  form.name = sensor.name;
  form.sensorType = sensor.sensor_type as SensorType;
  form.flowName = sensor.flow_name;
  form.enabled = sensor.enabled;
  form.flowParams = JSON.stringify(sensor.flow_params_json, null, 2);
  const interval = typeof config.interval_seconds === "number" ? String(config.interval_seconds) : "60";
  if (sensor.sensor_type === "s3") {
    form.s3 = {
      store: config.store === "local" ? "local" : "s3",
      bucket: text(config.bucket),
      prefix: text(config.prefix),
      endpointUrl: text(config.endpoint_url),
      region: text(config.region),
      accessKeyId: refForm(config.aws_access_key_id),
      secretAccessKey: refForm(config.aws_secret_access_key),
      intervalSeconds: interval,
      includeExisting: config.include_existing === true,
      events: Array.isArray(config.events) ? (config.events as string[]) : null,
    };
  }
  if (sensor.sensor_type === "polling") {
    const headers = (config.headers ?? {}) as Record<string, unknown>;
    const condition = config.condition as { jsonpath?: string; equals?: unknown } | undefined;
    form.polling = {
      url: text(config.url),
      intervalSeconds: interval,
      headers: Object.entries(headers).map(([name, value]) =>
        isRef(value) ? { name, kind: "secret", value: "", secret: refForm(value) } : { name, kind: "value", value: text(value), secret: noSecret() },
      ),
      conditionPath: condition?.jsonpath ?? "",
      conditionEquals: condition && "equals" in condition ? JSON.stringify(condition.equals) : "",
    };
  }
  return form;
}

function ref(value: SecretRef): { secret: string; environment?: string } {
  return value.environment.trim() ? { secret: value.secret.trim(), environment: value.environment.trim() } : { secret: value.secret.trim() };
}

/** `equals` of a condition: JSON when it parses, else the text as a string. */
export function equalsValue(textValue: string): unknown {
  try {
    return JSON.parse(textValue);
  } catch {
    return textValue;
  }
}

/** The sensor's `config_json` as the form describes it; only the fields given. */
export function sensorConfig(form: SensorForm): Record<string, unknown> {
  if (form.sensorType === "s3") {
    const s3 = form.s3;
    const config: Record<string, unknown> = {};
    if (s3.store === "local") config.store = "local";
    else config.bucket = s3.bucket.trim();
    if (s3.prefix) config.prefix = s3.prefix;
    if (s3.store === "s3") {
      if (s3.endpointUrl.trim()) config.endpoint_url = s3.endpointUrl.trim();
      if (s3.region.trim()) config.region = s3.region.trim();
      if (s3.accessKeyId.secret.trim()) config.aws_access_key_id = ref(s3.accessKeyId);
      if (s3.secretAccessKey.secret.trim()) config.aws_secret_access_key = ref(s3.secretAccessKey);
    }
    if (s3.events) config.events = s3.events;
    config.interval_seconds = Number(s3.intervalSeconds);
    if (s3.includeExisting) config.include_existing = true;
    return config;
  }
  if (form.sensorType === "polling") {
    const polling = form.polling;
    const config: Record<string, unknown> = { url: polling.url.trim(), interval_seconds: Number(polling.intervalSeconds) };
    const rows = polling.headers.filter((row) => row.name.trim());
    if (rows.length > 0) {
      config.headers = Object.fromEntries(rows.map((row) => [row.name.trim(), row.kind === "secret" ? ref(row.secret) : row.value]));
    }
    if (polling.conditionPath.trim()) {
      const condition: Record<string, unknown> = { jsonpath: polling.conditionPath.trim() };
      if (polling.conditionEquals.trim()) condition.equals = equalsValue(polling.conditionEquals.trim());
      config.condition = condition;
    }
    return config;
  }
  return {};
}

function checkInterval(value: string, field: string, problems: FieldProblems): void {
  const seconds = Number(value);
  if (!Number.isInteger(seconds) || seconds < MIN_CHECK_SECONDS || seconds > MAX_CHECK_SECONDS) {
    problems[field] = `Whole seconds, from ${MIN_CHECK_SECONDS} to ${MAX_CHECK_SECONDS} (7 days).`;
  }
}

/** What the server would refuse, checked before a request: API field (`config_json.bucket`) → message. */
export function checkSensorForm(form: SensorForm, creating: boolean): FieldProblems {
  const problems: FieldProblems = {};
  if (!form.name.trim() || form.name.length > 128) problems.name = "1 to 128 characters.";
  if (creating && !form.flowName) problems.flow_name = "Choose the flow each event runs.";
  if (form.sensorType === "s3") {
    const s3 = form.s3;
    if (s3.store === "s3" && !BUCKET.test(s3.bucket.trim())) {
      problems["config_json.bucket"] = "A bucket name: 3 to 63 lower-case letters, digits, dots or dashes.";
    }
    if (s3.prefix.startsWith("/")) problems["config_json.prefix"] = "An object key prefix does not start with /.";
    if (s3.store === "s3") {
      if (s3.endpointUrl.trim() && !/^https?:\/\//.test(s3.endpointUrl.trim())) problems["config_json.endpoint_url"] = "An http or https URL.";
      if (s3.region.trim() && !REGION.test(s3.region.trim())) problems["config_json.region"] = "A region such as eu-west-1.";
      if (!s3.accessKeyId.secret.trim() !== !s3.secretAccessKey.secret.trim()) {
        problems["config_json.aws_access_key_id"] = "Give both secrets or neither (without them the bucket is read anonymously).";
      }
    }
    checkInterval(s3.intervalSeconds, "config_json.interval_seconds", problems);
  }
  if (form.sensorType === "polling") {
    const polling = form.polling;
    if (!/^https?:\/\/\S+$/.test(polling.url.trim())) problems["config_json.url"] = "An http or https URL.";
    checkInterval(polling.intervalSeconds, "config_json.interval_seconds", problems);
    for (const row of polling.headers) {
      if (!row.name.trim()) continue;
      if (!HEADER_NAME.test(row.name.trim())) problems[`config_json.headers.${row.name.trim()}`] = "Not a header name.";
      else if (row.kind === "secret" && !row.secret.secret.trim()) problems[`config_json.headers.${row.name.trim()}`] = "Name the secret.";
      else if (row.kind === "value" && /[\r\n\0]/.test(row.value)) problems[`config_json.headers.${row.name.trim()}`] = "One line of text.";
    }
    if (polling.conditionEquals.trim() && !polling.conditionPath.trim()) {
      problems["config_json.condition.jsonpath"] = "Give the JSONPath whose value is compared.";
    }
  }
  const params = parseParameters(form.flowParams);
  if ("problem" in params) problems.flow_params_json = params.problem;
  return problems;
}

/** The POST /v1/sensors body; call after `checkSensorForm` found nothing. */
export function createSensorBody(form: SensorForm): Schemas["SensorCreate"] {
  return {
    name: form.name.trim(),
    sensor_type: form.sensorType,
    flow_name: form.flowName,
    enabled: form.enabled,
    config_json: sensorConfig(form),
    flow_params_json: (parseParameters(form.flowParams) as { value: Record<string, unknown> }).value,
  };
}

/** The PATCH body: the fields that changed (`config_json` whole, as the API replaces it). */
export function updateSensorBody(before: SensorForm, form: SensorForm): Schemas["SensorUpdate"] {
  const body: Schemas["SensorUpdate"] = {};
  if (form.name.trim() !== before.name.trim()) body.name = form.name.trim();
  if (form.enabled !== before.enabled) body.enabled = form.enabled;
  const config = sensorConfig(form);
  if (JSON.stringify(config) !== JSON.stringify(sensorConfig(before))) body.config_json = config;
  const params = parseParameters(form.flowParams);
  const previous = parseParameters(before.flowParams);
  if ("value" in params && JSON.stringify(params.value) !== JSON.stringify("value" in previous ? previous.value : null)) {
    body.flow_params_json = params.value;
  }
  return body;
}

/** The public URL a webhook sensor listens on. */
export function webhookUrl(origin: string, token: string): string {
  return `${origin}/v1/webhooks/${token}`;
}

/** A curl command that sends a test event to the webhook. */
export function webhookCurl(url: string): string {
  return `curl -X POST '${url}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{"event": "data_ready", "data": {"file": "data.csv"}}'`;
}

/** What an event's `detail` says, in a line: the error of a failure, or its other fields. */
export function eventDetail(event: Schemas["SensorEventRead"]): string {
  const detail = event.detail ?? {};
  const message = detail.message ?? detail.error;
  if (typeof message === "string") return message;
  const rest = Object.entries(detail).filter(([key]) => key !== "test");
  return rest.map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`).join(", ");
}
