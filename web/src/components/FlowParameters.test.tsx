import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { FlowParameters } from "./FlowParameters";

afterEach(cleanup);

const version = (parameter_schema: Schemas["FlowVersionRead"]["parameter_schema"]): Schemas["FlowVersionRead"] => ({
  flow_name: "weather",
  flow_version: "1",
  artifact_s3_uri: null,
  created_at: "2026-01-01T00:00:00Z",
  updated_at: "2026-01-01T00:00:00Z",
  schedule: null,
  status: "active",
  default_executor: null,
  tags: {},
  namespace: null,
  deployment_version: 1,
  code_hash: "abc",
  flow_spec: { entrypoint: "weather_flow:weather" },
  parameter_schema,
});

describe("FlowParameters", () => {
  it("lists a code flow's parameters with their hints, whether required, and defaults", () => {
    render(
      <FlowParameters
        version={version({
          type: "object",
          properties: { who: { type: "string", default: "world", "x-python-type": "str" }, times: { type: "integer", "x-python-type": "int" } },
          required: ["times"],
          additionalProperties: true,
        })}
      />,
    );
    const rows = screen.getAllByRole("row").slice(1).map((row) => within(row).getAllByRole("cell").map((c) => c.textContent));
    expect(rows).toEqual([
      ["who", "str", "optional", '"world"'],
      ["times", "int", "required", "—"],
    ]);
    expect(screen.getByText(/Parameters the schema does not name are accepted/)).toBeTruthy();
  });

  it("says runs are not checked when the version has no schema", () => {
    render(<FlowParameters version={version(null)} />);
    expect(screen.getByText(/not checked against a schema/)).toBeTruthy();
  });
});
