import { describe, expect, it } from "vitest";
import { DEFAULT_OPTIONS, triggerBody } from "./runsTrigger";

describe("triggerBody", () => {
  it("runs a flow's latest version with the server's defaults", () => {
    expect(triggerBody({ flow: "etl", version: "", deployment: "" }, { a: 1 }, DEFAULT_OPTIONS)).toEqual({ flow_name: "etl", parameters: { a: 1 } });
  });

  it("names a version, or a deployment instead of the flow", () => {
    expect(triggerBody({ flow: "etl", version: "3", deployment: "" }, {}, DEFAULT_OPTIONS)).toEqual({ flow_name: "etl", flow_version: "3", parameters: {} });
    expect(triggerBody({ flow: "etl", version: "", deployment: "etl-prod" }, {}, DEFAULT_OPTIONS)).toEqual({ deployment: "etl-prod", parameters: {} });
  });

  it("sends only the options set", () => {
    const options = { executor: "gpu", execution_mode: "large" as const, max_retries: "2", priority: " ", tags: " backfill, ,urgent ", checkOnly: true };
    expect(triggerBody({ flow: "etl", version: "", deployment: "" }, {}, options)).toEqual({
      flow_name: "etl",
      parameters: {},
      executor: "gpu",
      execution_mode: "large",
      max_retries: 2,
      tags: ["backfill", "urgent"],
      execute: false,
    });
  });
});
