// A flow version's `parameter_schema` (a JSON Schema declared in its spec, or read from a code
// flow's entry function's keyword arguments: docs/flows.md "A flow's parameters") as rows a person
// reads.

export type ParameterRow = {
  name: string;
  /** The type hint as written (`x-python-type`), else what the schema admits. */
  type: string;
  required: boolean;
  /** The default as JSON, when the schema gives one (a function's literal default). */
  defaultValue?: string;
  description?: string;
};

type Schema = Record<string, unknown>;

const isObject = (value: unknown): value is Schema => typeof value === "object" && value !== null && !Array.isArray(value);

/** What a schema admits, in words: `integer`, `string | null`, `array of string`, `"a" | "b"`, `any`. */
export function describeType(schema: unknown): string {
  if (!isObject(schema)) return "any";
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(" | ");
  if ("const" in schema) return JSON.stringify(schema.const);
  const union = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(union)) return union.map(describeType).join(" | ");
  const type = Array.isArray(schema.type) ? schema.type.join(" | ") : schema.type;
  if (type === "array" && isObject(schema.items)) return `array of ${describeType(schema.items)}`;
  if (type === "string" && typeof schema.format === "string") return `string (${schema.format})`;
  return typeof type === "string" ? type : "any";
}

export function parameterRows(schema: Schema | null | undefined): ParameterRow[] {
  if (!isObject(schema?.properties)) return [];
  const required = new Set(Array.isArray(schema.required) ? schema.required : []);
  return Object.entries(schema.properties).map(([name, property]) => {
    const hint = isObject(property) && typeof property["x-python-type"] === "string" ? property["x-python-type"] : undefined;
    const row: ParameterRow = { name, type: hint ?? describeType(property), required: required.has(name) };
    if (isObject(property) && "default" in property) row.defaultValue = JSON.stringify(property.default);
    const words = isObject(property) ? [property.title, property.description].filter((w): w is string => typeof w === "string" && w.trim() !== "") : [];
    if (words.length) row.description = words.join(": ");
    return row;
  });
}

/** Whether other parameters are taken too (a function's `**kwargs`), and of what type. */
export function extraParameters(schema: Schema | null | undefined): string | null {
  const extra = schema?.additionalProperties;
  if (extra === undefined || extra === false) return null;
  if (extra === true) return "any";
  return isObject(extra) && typeof extra["x-python-type"] === "string" ? extra["x-python-type"] : describeType(extra);
}
