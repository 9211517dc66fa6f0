import { describe, expect, it } from "vitest";
import { channelConfig, configFacts, emptyRule, initialValues, parseHeaders, ruleBody, ruleFormErrors } from "./alerts";

describe("channel config", () => {
  it("sends a webhook's URL, headers and secret, and leaves empty fields out", () => {
    expect(channelConfig("webhook", { url: " http://127.0.0.1:9000/hook ", headers: "X-Team: data\n\nAuthorization: Bearer t:1", secret: "" })).toEqual({
      url: "http://127.0.0.1:9000/hook",
      headers: { "X-Team": "data", Authorization: "Bearer t:1" },
    });
  });

  it("splits email recipients and reads the port as a number", () => {
    expect(channelConfig("email", { to: "a@x.io\nb@x.io, c@x.io", smtp_port: "2525", smtp_password: " pass " })).toEqual({
      to: ["a@x.io", "b@x.io", "c@x.io"],
      smtp_port: 2525,
      smtp_password: " pass ", // a secret is sent exactly as typed
    });
  });

  it("starts PagerDuty at the API's default severity", () => {
    expect(initialValues("pagerduty")).toEqual({ routing_key: "", severity: "error", events_url: "" });
    expect(channelConfig("pagerduty", { ...initialValues("pagerduty"), routing_key: "R0UT1NG" })).toEqual({ routing_key: "R0UT1NG", severity: "error" });
  });

  it("keeps a header line without a colon for the server to name", () => {
    expect(parseHeaders("oops")).toEqual({ oops: "" });
  });

  it("shows a masked config as facts", () => {
    expect(configFacts({ to: ["a@x.io", "b@x.io"], headers: { "X-Team": "********" }, smtp_port: 587 })).toEqual([
      ["to", "a@x.io, b@x.io"],
      ["headers", "X-Team: ********"],
      ["smtp_port", "587"],
    ]);
  });
});

describe("alert rule form", () => {
  it("asks for a name, a channel, and an SLA for SLA rules", () => {
    expect(ruleFormErrors({ ...emptyRule(), trigger: "on_sla_breach" })).toEqual({
      name: "Give the rule a name.",
      channelIds: "Choose at least one channel.",
      slaMinutes: "How many minutes a run may take.",
    });
    expect(ruleFormErrors({ ...emptyRule(), name: "x", channelIds: ["ch_1"] })).toEqual({});
  });

  it("sends no flow as every flow, and seconds only for an SLA rule", () => {
    expect(ruleBody({ ...emptyRule(), name: " Failures ", channelIds: ["ch_1"], slaMinutes: "5" })).toEqual({
      name: "Failures", trigger: "on_failure", channel_ids: ["ch_1"], flow_name: null, sla_seconds: null, enabled: true,
    });
    expect(ruleBody({ ...emptyRule(), name: "Slow", trigger: "on_sla_breach", flowName: "etl", channelIds: ["ch_1"], slaMinutes: "1.5" })).toMatchObject({
      flow_name: "etl", sla_seconds: 90,
    });
  });
});
