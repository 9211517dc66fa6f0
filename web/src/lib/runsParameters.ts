// The parameters form of "Trigger a run": the fields a flow version's `parameter_schema` asks for
// (a JSON Schema declared in its spec as `flow_spec.parameters`, or read from a code flow's entry
// function's keyword arguments: docs/flows.md "A flow's parameters"), the form's values turned
// back into JSON, and the API's refusals put on their fields.

export type FieldKind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

export type ParamField = {
  name: string;
  kind: FieldKind;
  required: boolean;
  /** Null is one of the values it takes. */
  nullable: boolean;
  hasDefault: boolean;
  defaultValue?: unknown;
  /** An enum's values (null among them when nullable). */
  options?: unknown[];
  /** `date`, `date-time` or `time` for strings the function reads as such. */
  format?: string;
  /** What a JSON field must hold: an object, an array, or any JSON value. */
  expect?: "object" | "array" | "any";
  /** The function's type hint as written (`x-python-type`). */
  hint?: string;
  /** The schema's `description` (after its `title`, when it has both). */
  description?: string;
};

export type ParamForm = {
  fields: ParamField[];
  /** Other parameters are taken too (`additionalProperties` not false; a function's `**kwargs`). */
  extra: boolean;
};

/** A field's value as the form holds it: checkboxes a boolean, every other input its text. */
export type RawValue = string | boolean;
export type RawValues = Record<string, RawValue>;

type JsonSchema = Record<string, unknown>;

const isObject = (value: unknown): value is JsonSchema => typeof value === "object" && value !== null && !Array.isArray(value);

/** The form of a version's parameter schema; null when it has none (runs are not checked). */
export function formFromSchema(schema: unknown): ParamForm | null {
  if (!isObject(schema)) return null;
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === "string") : []);
  const fields = Object.entries(properties).map(([name, property]) => fieldOf(name, isObject(property) ? property : {}, required.has(name)));
  return { fields, extra: schema.additionalProperties !== false };
}

function fieldOf(name: string, schema: JsonSchema, required: boolean): ParamField {
  const base = {
    name,
    required,
    hasDefault: "default" in schema,
    defaultValue: schema.default,
    hint: typeof schema["x-python-type"] === "string" ? schema["x-python-type"] : undefined,
    description: describedAs(schema),
  };
  return { ...base, ...shapeOf(schema) };
}

/** A declared schema's words for a property: its title and description, when it has them. */
function describedAs(schema: JsonSchema): string | undefined {
  const words = [schema.title, schema.description].filter((w): w is string => typeof w === "string" && w.trim() !== "");
  return words.length ? words.join(": ") : undefined;
}

type Shape = Pick<ParamField, "kind" | "nullable" | "options" | "format" | "expect">;

/** The values of a choice written as `oneOf`/`anyOf` of `const`s (`[{const: "eu", title: "Europe"}, ...]`), else null. */
function constChoices(members: unknown): unknown[] | null {
  if (!Array.isArray(members) || members.length === 0) return null;
  if (!members.every((m) => isObject(m) && "const" in m)) return null;
  return members.map((m) => (m as JsonSchema).const);
}

/** What input a property's schema calls for: a plain input for one scalar type, a JSON text otherwise. */
function shapeOf(schema: JsonSchema): Shape {
  if (Array.isArray(schema.enum)) return { kind: "enum", nullable: schema.enum.includes(null), options: schema.enum };
  if ("const" in schema) return { kind: "enum", nullable: schema.const === null, options: [schema.const] };
  const choices = constChoices(schema.oneOf) ?? constChoices(schema.anyOf);
  if (choices) return { kind: "enum", nullable: choices.includes(null), options: choices };
  if (Array.isArray(schema.anyOf)) {
    const members = schema.anyOf.filter(isObject);
    const rest = members.filter((m) => m.type !== "null");
    if (rest.length === 1 && rest.length < members.length) {
      const inner = shapeOf(rest[0]);
      return inner.kind === "enum" ? { ...inner, nullable: true, options: [...(inner.options ?? []), null] } : { ...inner, nullable: true };
    }
    return { kind: "json", nullable: members.length > rest.length, expect: "any" };
  }
  const types = typeof schema.type === "string" ? [schema.type] : Array.isArray(schema.type) ? schema.type.filter((t): t is string => typeof t === "string") : [];
  const nullable = types.includes("null");
  const kinds = types.filter((t) => t !== "null");
  const kind = kinds.length === 2 && kinds.includes("integer") && kinds.includes("number") ? "number" : kinds.length === 1 ? kinds[0] : "";
  if (kind === "boolean") return nullable ? { kind: "enum", nullable, options: [true, false, null] } : { kind: "boolean", nullable };
  if (kind === "string") return { kind, nullable, format: typeof schema.format === "string" ? schema.format : undefined };
  if (kind === "integer" || kind === "number") return { kind, nullable };
  return { kind: "json", nullable, expect: kind === "object" || kind === "array" ? kind : "any" };
}

/** The form's first values: each field's default, else empty (a required enum asks for a choice). */
export function initialValues(fields: readonly ParamField[]): RawValues {
  return Object.fromEntries(fields.map((f) => [f.name, f.hasDefault ? toRaw(f, f.defaultValue) : emptyRaw(f)]));
}

/**
 * Form values holding `values` (a run's parameters, to run it again with changes); the names no
 * field has, for the "other parameters" JSON.
 */
export function valuesFrom(fields: readonly ParamField[], values: Record<string, unknown>): { raw: RawValues; others: Record<string, unknown> } {
  const raw = initialValues(fields);
  const names = new Set(fields.map((f) => f.name));
  for (const field of fields) if (field.name in values) raw[field.name] = toRaw(field, values[field.name]);
  return { raw, others: Object.fromEntries(Object.entries(values).filter(([name]) => !names.has(name))) };
}

function emptyRaw(field: ParamField): RawValue {
  return field.kind === "boolean" ? false : "";
}

function toRaw(field: ParamField, value: unknown): RawValue {
  switch (field.kind) {
    case "boolean":
      return value === true;
    case "enum":
      return JSON.stringify(value);
    case "json":
      return value === null && !field.required ? "" : JSON.stringify(value, null, 2);
    default:
      return value === null || value === undefined ? "" : String(value);
  }
}

/** The value an enum's option stands for in a <select> (its JSON). */
export const optionValue = (option: unknown): string => JSON.stringify(option);

export type Coerced = { values: Record<string, unknown>; errors: Record<string, string> };

/**
 * The parameters the form's values make, or why a field's value cannot be one. An empty optional
 * field is left out (the server fills in the schema's default, if it has one); an empty required
 * field is null when it takes null, else an error.
 */
export function coerceValues(fields: readonly ParamField[], raw: RawValues): Coerced {
  const values: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const field of fields) {
    const input = raw[field.name] ?? emptyRaw(field);
    if (typeof input === "boolean") {
      values[field.name] = input;
      continue;
    }
    if (input.trim() === "" && !(field.kind === "string" && input !== "")) {
      if (field.required && field.nullable) values[field.name] = null;
      else if (field.required) errors[field.name] = "Required.";
      continue;
    }
    const result = coerceOne(field, input);
    if ("error" in result) errors[field.name] = result.error;
    else values[field.name] = result.value;
  }
  return { values, errors };
}

function coerceOne(field: ParamField, input: string): { value: unknown } | { error: string } {
  const text = input.trim();
  switch (field.kind) {
    case "integer": {
      const value = Number(text);
      return /^[+-]?\d+$/.test(text) && Number.isSafeInteger(value) ? { value } : { error: "Must be a whole number." };
    }
    case "number": {
      const value = Number(text);
      return Number.isFinite(value) && !/^[+-]?0x/i.test(text) ? { value } : { error: "Must be a number." };
    }
    case "enum":
      return { value: JSON.parse(input) };
    case "json":
      return parseJson(text, field.expect ?? "any");
    default:
      return { value: input };
  }
}

/** JSON text as a value of the shape asked for, or the reason it is not one. */
export function parseJson(text: string, expect: "object" | "array" | "any"): { value: unknown } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { error: `Not valid JSON: ${(e as Error).message}` };
  }
  if (expect === "object" && !isObject(value)) return { error: "Must be a JSON object, like {\"key\": \"value\"}." };
  if (expect === "array" && !Array.isArray(value)) return { error: "Must be a JSON array, like [1, 2]." };
  return { value };
}

/**
 * The API's refusal of a run's parameters (400 with `details` such as `{"parameters.limit": "must
 * be an integer"}`) as messages by field name; `others` keeps the details no field shows.
 */
export function fieldErrors(details: Record<string, unknown> | undefined, names: readonly string[]): { byField: Record<string, string>; others: Record<string, unknown> } {
  const byField: Record<string, string> = {};
  const others: Record<string, unknown> = {};
  const known = new Set(names);
  for (const [key, why] of Object.entries(details ?? {})) {
    const name = key.startsWith("parameters.") ? key.slice("parameters.".length) : "";
    if (known.has(name)) byField[name] = typeof why === "string" ? why : JSON.stringify(why);
    else others[key] = why;
  }
  return { byField, others };
}

/** What a field is, in a few words under it: "Python type int · default 10". */
export function fieldHelp(field: ParamField): string {
  const parts: string[] = [];
  if (field.description) parts.push(field.description);
  if (field.hint) parts.push(`Python type ${field.hint}`);
  if (field.kind === "json") parts.push(field.expect === "object" ? "a JSON object" : field.expect === "array" ? "a JSON array" : "any JSON value");
  if (field.format) parts.push(FORMATS[field.format] ?? field.format);
  if (field.hasDefault) parts.push(`default ${JSON.stringify(field.defaultValue)}`);
  else if (!field.required) parts.push("optional");
  if (field.nullable && field.required && field.kind !== "enum") parts.push("empty sends null");
  return parts.join(" · ");
}

const FORMATS: Record<string, string> = {
  date: "a date (YYYY-MM-DD)",
  "date-time": "a date and time (ISO 8601, like 2026-03-02T10:15:30Z)",
  time: "a time (HH:MM:SS)",
};

/** The parameters part of the trigger form: the fields' values, and JSON text for the rest. */
export type ParametersState = {
  raw: RawValues;
  /** Parameters no field names (`**kwargs`), or all of them for a version without a schema. */
  json: string;
};

/** The key of the JSON text's error in `Coerced.errors`. */
export const JSON_ERROR = "*json";

/** The form's first state: the fields' defaults, or the values of `parameters` (a run to do again). */
export function initialState(form: ParamForm | null, parameters?: Record<string, unknown>): ParametersState {
  if (!form) return { raw: {}, json: JSON.stringify(parameters ?? {}, null, 2) };
  if (!parameters) return { raw: initialValues(form.fields), json: "" };
  const { raw, others } = valuesFrom(form.fields, parameters);
  return { raw, json: Object.keys(others).length ? JSON.stringify(others, null, 2) : "" };
}

/** The run's `parameters` from the whole form: the fields' values and the JSON text's object. */
export function collectParameters(form: ParamForm | null, state: ParametersState): Coerced {
  const { values, errors } = form ? coerceValues(form.fields, state.raw) : { values: {}, errors: {} as Record<string, string> };
  if (!state.json.trim()) return { values, errors };
  const parsed = parseJson(state.json, "object");
  if ("error" in parsed) return { values, errors: { ...errors, [JSON_ERROR]: parsed.error } };
  const taken = Object.keys(parsed.value as object).filter((name) => name in values);
  if (taken.length) return { values, errors: { ...errors, [JSON_ERROR]: `Set ${taken.join(", ")} in ${taken.length === 1 ? "its field" : "their fields"} above instead.` } };
  return { values: { ...values, ...(parsed.value as Record<string, unknown>) }, errors };
}
