import { describe, expect, it } from "vitest";
import { describeType, extraParameters, parameterRows } from "./flowsSchema";

describe("parameterRows", () => {
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    type: "object",
    properties: {
      cities: { type: "array", items: { type: "string" }, "x-python-type": "list[str]" },
      limit: { anyOf: [{ type: "integer" }, { type: "null" }], default: null, "x-python-type": "int | None" },
      mode: { enum: ["fast", "slow"], default: "fast" },
      anything: {},
    },
    required: ["cities", "anything"],
    additionalProperties: false,
  };

  it("gives each parameter its hint as written, whether it is required and its default", () => {
    expect(parameterRows(schema)).toEqual([
      { name: "cities", type: "list[str]", required: true },
      { name: "limit", type: "int | None", required: false, defaultValue: "null" },
      { name: "mode", type: '"fast" | "slow"', required: false, defaultValue: '"fast"' },
      { name: "anything", type: "any", required: true },
    ]);
    expect(extraParameters(schema)).toBeNull();
  });

  it("has no rows without a schema", () => {
    expect(parameterRows(null)).toEqual([]);
    expect(parameterRows({ type: "object" })).toEqual([]);
  });

  it("says what **kwargs admits", () => {
    expect(extraParameters({ additionalProperties: true })).toBe("any");
    expect(extraParameters({ additionalProperties: { type: "integer", "x-python-type": "int" } })).toBe("int");
  });
});

describe("describeType", () => {
  it("reads unions, arrays and types given as lists", () => {
    expect(describeType({ type: ["string", "null"] })).toBe("string | null");
    expect(describeType({ type: "array", items: { anyOf: [{ type: "integer" }, { type: "string" }] } })).toBe("array of integer | string");
    expect(describeType({ type: "object" })).toBe("object");
    expect(describeType(true)).toBe("any");
  });
});
