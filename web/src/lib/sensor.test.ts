import { describe, expect, test } from "vitest";
import type { Schemas } from "../api/client";
import {
  checkSensorForm,
  createSensorBody,
  eventDetail,
  formFromSensor,
  newHeaderRow,
  newSensorForm,
  updateSensorBody,
  webhookCurl,
  webhookUrl,
  type SensorForm,
} from "./sensor";

function form(change: (form: SensorForm) => void): SensorForm {
  const f = newSensorForm();
  f.name = "Incoming files";
  f.flowName = "ingest";
  change(f);
  return f;
}

const read = (sensor: Partial<Schemas["SensorRead"]>): Schemas["SensorRead"] => ({
  sensor_id: "sensor_1",
  name: "Incoming files",
  sensor_type: "s3",
  flow_name: "ingest",
  enabled: true,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  last_fired_at: null,
  next_check_at: null,
  webhook_token: null,
  config_json: {},
  flow_params_json: {},
  ...sensor,
});

describe("form → request body", () => {
  test("webhook: an empty configuration", () => {
    expect(createSensorBody(form((f) => (f.flowParams = '{"env": "prod"}')))).toEqual({
      name: "Incoming files",
      sensor_type: "webhook",
      flow_name: "ingest",
      enabled: true,
      config_json: {},
      flow_params_json: { env: "prod" },
    });
  });

  test("s3: the bucket, and credentials as secret references", () => {
    const body = createSensorBody(
      form((f) => {
        f.sensorType = "s3";
        f.s3.bucket = " my-bucket ";
        f.s3.prefix = "incoming/";
        f.s3.region = "eu-west-1";
        f.s3.accessKeyId = { secret: "aws-key-id", environment: "" };
        f.s3.secretAccessKey = { secret: "aws-secret", environment: "production" };
        f.s3.intervalSeconds = "120";
        f.s3.includeExisting = true;
      }),
    );
    expect(body.config_json).toEqual({
      bucket: "my-bucket",
      prefix: "incoming/",
      region: "eu-west-1",
      aws_access_key_id: { secret: "aws-key-id" },
      aws_secret_access_key: { secret: "aws-secret", environment: "production" },
      interval_seconds: 120,
      include_existing: true,
    });
  });

  test("s3 on Dagy's own store: no bucket, endpoint or credentials", () => {
    const body = createSensorBody(
      form((f) => {
        f.sensorType = "s3";
        f.s3.store = "local";
        f.s3.bucket = "ignored";
        f.s3.endpointUrl = "https://ignored";
        f.s3.prefix = "incoming/";
      }),
    );
    expect(body.config_json).toEqual({ store: "local", prefix: "incoming/", interval_seconds: 60 });
  });

  test("polling: headers as text or secrets, and a condition whose value is JSON or a string", () => {
    const config = (equals: string) =>
      createSensorBody(
        form((f) => {
          f.sensorType = "polling";
          f.polling.url = "https://status.example.com/jobs";
          f.polling.intervalSeconds = "30";
          f.polling.headers = [
            { ...newHeaderRow(), name: "Accept", value: "application/json" },
            { ...newHeaderRow(), name: "Authorization", kind: "secret", secret: { secret: "status-token", environment: "" } },
            newHeaderRow(),
          ];
          f.polling.conditionPath = "$.state";
          f.polling.conditionEquals = equals;
        }),
      ).config_json;
    expect(config('"done"')).toEqual({
      url: "https://status.example.com/jobs",
      interval_seconds: 30,
      headers: { Accept: "application/json", Authorization: { secret: "status-token" } },
      condition: { jsonpath: "$.state", equals: "done" },
    });
    expect(config("done")).toMatchObject({ condition: { equals: "done" } });
    expect(config("3")).toMatchObject({ condition: { equals: 3 } });
    expect(config("")).toMatchObject({ condition: { jsonpath: "$.state" } });
    expect(config("")).not.toHaveProperty("condition.equals");
  });
});

describe("an existing sensor, read back and changed", () => {
  const s3 = read({
    config_json: { bucket: "b-1", prefix: "in/", aws_access_key_id: { secret: "k" }, aws_secret_access_key: { secret: "s", environment: "prod" } },
    flow_params_json: { a: 1 },
  });

  test("unchanged: nothing to send, even where the stored config leaves defaults out", () => {
    const before = formFromSensor(s3);
    expect(before.s3).toMatchObject({ bucket: "b-1", prefix: "in/", intervalSeconds: "60", secretAccessKey: { secret: "s", environment: "prod" } });
    expect(updateSensorBody(before, formFromSensor(s3))).toEqual({});
  });

  test("a changed prefix sends the whole config; changed params and name theirs", () => {
    const before = formFromSensor(s3);
    const after = formFromSensor(s3);
    after.s3.prefix = "new/";
    after.name = "Renamed";
    after.flowParams = '{"a": 2}';
    expect(updateSensorBody(before, after)).toEqual({
      name: "Renamed",
      config_json: {
        bucket: "b-1",
        prefix: "new/",
        aws_access_key_id: { secret: "k" },
        aws_secret_access_key: { secret: "s", environment: "prod" },
        interval_seconds: 60,
      },
      flow_params_json: { a: 2 },
    });
  });

  test("a polling sensor's headers and condition come back as rows", () => {
    const polled = formFromSensor(
      read({
        sensor_type: "polling",
        config_json: { url: "https://x.test", interval_seconds: 45, headers: { "X-Key": { secret: "key" }, Accept: "*/*" }, condition: { jsonpath: "$.ok", equals: true } },
      }),
    );
    expect(polled.polling.headers.map((h) => [h.name, h.kind])).toEqual([["X-Key", "secret"], ["Accept", "value"]]);
    expect(polled.polling.conditionEquals).toBe("true");
    expect(polled.polling.intervalSeconds).toBe("45");
  });
});

describe("checks before sending, named as the API names them", () => {
  test("s3", () => {
    const problems = checkSensorForm(
      form((f) => {
        f.sensorType = "s3";
        f.s3.bucket = "B";
        f.s3.prefix = "/abs";
        f.s3.accessKeyId.secret = "only-one";
        f.s3.intervalSeconds = "10";
      }),
      true,
    );
    expect(Object.keys(problems).sort()).toEqual([
      "config_json.aws_access_key_id",
      "config_json.bucket",
      "config_json.interval_seconds",
      "config_json.prefix",
    ]);
  });

  test("polling, name, flow and parameters", () => {
    const problems = checkSensorForm(
      form((f) => {
        f.name = "";
        f.flowName = "";
        f.sensorType = "polling";
        f.polling.url = "ftp://x";
        f.polling.headers = [{ ...newHeaderRow(), name: "Bad Header" }];
        f.polling.conditionEquals = "1";
        f.flowParams = "[]";
      }),
      true,
    );
    expect(Object.keys(problems).sort()).toEqual([
      "config_json.condition.jsonpath",
      "config_json.headers.Bad Header",
      "config_json.url",
      "flow_name",
      "flow_params_json",
      "name",
    ]);
  });
});

test("the webhook URL and its curl example", () => {
  const url = webhookUrl("https://dagy.example.com", "wh_abc");
  expect(url).toBe("https://dagy.example.com/v1/webhooks/wh_abc");
  expect(webhookCurl(url)).toContain("curl -X POST 'https://dagy.example.com/v1/webhooks/wh_abc'");
});

test("an event's detail in a line", () => {
  const event = { event_id: "e", time: "", payload_digest: "", run_id: null, outcome: "failed" };
  expect(eventDetail({ ...event, detail: { error: "s3://b/: NoSuchBucket" } })).toBe("s3://b/: NoSuchBucket");
  expect(eventDetail({ ...event, detail: { bytes: 12 } })).toBe("bytes: 12");
  expect(eventDetail({ ...event, detail: { test: true } })).toBe("");
});
