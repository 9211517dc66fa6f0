import { describe, expect, it } from "vitest";
import {
  coerceValues,
  collectParameters,
  fieldErrors,
  fieldHelp,
  formFromSchema,
  initialState,
  initialValues,
  JSON_ERROR,
  optionValue,
  type ParamField,
} from "./runsParameters";

// The schema the server reads from
//   @flow
//   def main(limit: int, region: Literal["eu", "us"] = "eu", threshold: float = 0.5,
//            dry_run: bool = False, label: str | None = None, day: date | None = None,
//            tags: list[str] = ["a"], options: dict[str, int] | None = None, flag: bool | None = None,
//            anything=None, both: int | str = 1, **extra: str)
const schema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    limit: { type: "integer", "x-python-type": "int" },
    region: { enum: ["eu", "us"], default: "eu", "x-python-type": "Literal['eu', 'us']" },
    threshold: { type: "number", default: 0.5 },
    dry_run: { type: "boolean", default: false },
    label: { type: ["string", "null"], default: null },
    day: { type: ["string", "null"], format: "date", default: null },
    tags: { type: "array", items: { type: "string" }, default: ["a"] },
    options: { type: ["object", "null"], additionalProperties: { type: "integer" }, default: null },
    flag: { type: ["boolean", "null"], default: null },
    anything: { default: null },
    both: { type: ["integer", "string"], default: 1 },
    when: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }] },
  },
  required: ["limit", "when"],
  additionalProperties: { type: "string" },
};

const form = formFromSchema(schema)!;
const field = (name: string) => form.fields.find((f) => f.name === name)!;

describe("formFromSchema", () => {
  it("maps each keyword argument to the input its type calls for", () => {
    expect(form.fields.map((f) => [f.name, f.kind])).toEqual([
      ["limit", "integer"],
      ["region", "enum"],
      ["threshold", "number"],
      ["dry_run", "boolean"],
      ["label", "string"],
      ["day", "string"],
      ["tags", "json"],
      ["options", "json"],
      ["flag", "enum"],
      ["anything", "json"],
      ["both", "json"],
      ["when", "string"],
    ]);
    expect(form.extra).toBe(true);
  });

  it("marks required and nullable fields and keeps defaults, formats, hints and shapes", () => {
    expect(field("limit")).toMatchObject({ required: true, nullable: false, hasDefault: false, hint: "int" });
    expect(field("label")).toMatchObject({ required: false, nullable: true, hasDefault: true, defaultValue: null });
    expect(field("day").format).toBe("date");
    expect(field("when")).toMatchObject({ required: true, nullable: true, format: "date-time" });
    expect(field("tags").expect).toBe("array");
    expect(field("options")).toMatchObject({ expect: "object", nullable: true });
    expect(field("anything").expect).toBe("any");
    expect(field("flag").options).toEqual([true, false, null]);
  });

  it("is null without a schema, and takes no other names when additionalProperties is false", () => {
    expect(formFromSchema(null)).toBeNull();
    expect(formFromSchema({ type: "object", properties: {}, required: [], additionalProperties: false })).toEqual({ fields: [], extra: false });
  });
});

describe("initialValues", () => {
  it("prefills defaults and leaves the rest empty", () => {
    expect(initialValues(form.fields)).toEqual({
      limit: "",
      region: optionValue("eu"),
      threshold: "0.5",
      dry_run: false,
      label: "",
      day: "",
      tags: '[\n  "a"\n]',
      options: "",
      flag: "null",
      anything: "",
      both: "1",
      when: "",
    });
  });
});

describe("coerceValues", () => {
  const raw = { ...initialValues(form.fields), limit: " 42 ", when: "2026-03-02T10:00:00Z" };

  it("turns the inputs into JSON values, leaving empty optional fields out", () => {
    expect(coerceValues(form.fields, raw)).toEqual({
      values: { limit: 42, region: "eu", threshold: 0.5, dry_run: false, tags: ["a"], flag: null, both: 1, when: "2026-03-02T10:00:00Z" },
      errors: {},
    });
  });

  it("says what is wrong with each field", () => {
    const bad = { ...raw, limit: "4.5", threshold: "abc", tags: "[1,", options: "[1]", when: "" };
    const { errors } = coerceValues(form.fields, bad);
    expect(errors.limit).toBe("Must be a whole number.");
    expect(errors.threshold).toBe("Must be a number.");
    expect(errors.tags).toMatch(/^Not valid JSON/);
    expect(errors.options).toMatch(/JSON object/);
    expect(errors).not.toHaveProperty("when");
  });

  it("sends null for an empty required field that takes null, and requires the others", () => {
    const fields: ParamField[] = [field("limit"), field("when")];
    expect(coerceValues(fields, { limit: "", when: "" })).toEqual({ values: { when: null }, errors: { limit: "Required." } });
  });

  it("keeps a string as typed, and numbers in any JSON form", () => {
    const fields = formFromSchema({ properties: { s: { type: "string" }, n: { type: "number" } }, required: ["s", "n"] })!.fields;
    expect(coerceValues(fields, { s: "  padded ", n: "-1e3" }).values).toEqual({ s: "  padded ", n: -1000 });
    expect(coerceValues(fields, { s: "x", n: "0x10" }).errors).toEqual({ n: "Must be a number." });
  });

  it("refuses integers past what JSON numbers hold exactly", () => {
    expect(coerceValues([field("limit")], { limit: "9007199254740993" }).errors.limit).toBe("Must be a whole number.");
  });
});

describe("collectParameters", () => {
  it("adds the other parameters' JSON object, refusing names a field has", () => {
    const state = { raw: { ...initialValues(form.fields), limit: "1", when: "" }, json: '{"extra": "x"}' };
    expect(collectParameters(form, state).values).toMatchObject({ limit: 1, extra: "x" });
    expect(collectParameters(form, { ...state, json: '{"limit": 2}' }).errors[JSON_ERROR]).toMatch(/limit/);
    expect(collectParameters(form, { ...state, json: "[1]" }).errors[JSON_ERROR]).toMatch(/JSON object/);
  });

  it("takes a version without a schema's parameters as one JSON object", () => {
    expect(collectParameters(null, { raw: {}, json: '{"a": [1]}' })).toEqual({ values: { a: [1] }, errors: {} });
    expect(collectParameters(null, { raw: {}, json: "" })).toEqual({ values: {}, errors: {} });
  });
});

describe("initialState", () => {
  it("fills the form in with an earlier run's parameters, the unknown names as JSON", () => {
    const state = initialState(form, { limit: 7, region: "us", dry_run: true, tags: ["x"], more: "y" });
    expect(state.raw).toMatchObject({ limit: "7", region: '"us"', dry_run: true, tags: '[\n  "x"\n]', threshold: "0.5" });
    expect(JSON.parse(state.json)).toEqual({ more: "y" });
    expect(collectParameters(form, { ...state, raw: { ...state.raw, when: "" } }).values).toMatchObject({ limit: 7, region: "us", dry_run: true, tags: ["x"], more: "y" });
  });

  it("shows all of them as JSON without a schema", () => {
    expect(initialState(null, { a: 1 }).json).toBe('{\n  "a": 1\n}');
    expect(initialState(null).json).toBe("{}");
  });
});

describe("fieldErrors", () => {
  it("puts the API's refusal of a parameter on its field, and keeps the rest", () => {
    const details = { "parameters.limit": "must be an integer", "parameters.nope": "the flow function takes no parameter nope", executor: "one of local" };
    expect(fieldErrors(details, ["limit"])).toEqual({
      byField: { limit: "must be an integer" },
      others: { "parameters.nope": "the flow function takes no parameter nope", executor: "one of local" },
    });
  });
});

describe("fieldHelp", () => {
  it("says the type, the format and the default in words", () => {
    expect(fieldHelp(field("limit"))).toBe("Python type int");
    expect(fieldHelp(field("day"))).toBe("a date (YYYY-MM-DD) · default null");
    expect(fieldHelp(field("when"))).toMatch(/empty sends null$/);
  });
});
