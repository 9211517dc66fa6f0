import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { parameterRows } from "../lib/flowsSchema";
import { collectParameters, formFromSchema, initialState, type ParamForm, type ParametersState } from "../lib/runsParameters";
import { RunParametersForm } from "./RunParametersForm";

afterEach(cleanup);

// A DAG flow's schema declared in its spec (`flow_spec.parameters`, docs/flows.md): no type hints,
// but choices, defaults, titles and descriptions.
const declared = {
  type: "object",
  properties: {
    region: { type: "string", enum: ["eu", "us"], default: "eu", description: "Where to load" },
    limit: { type: "integer", minimum: 1, default: 100, title: "Row limit" },
    day: { type: "string", format: "date", description: "The day to load" },
    mode: { oneOf: [{ const: "full", title: "Everything" }, { const: "delta", title: "Changes only" }] },
    dry_run: { type: "boolean", default: false },
  },
  required: ["day", "mode"],
  additionalProperties: false,
};

const form = formFromSchema(declared)!;

function Harness({ form }: { form: ParamForm | null }) {
  const [state, setState] = useState(() => initialState(form));
  return (
    <>
      <RunParametersForm form={form} state={state} errors={{}} onChange={setState} />
      <output>{JSON.stringify(collectParameters(form, state))}</output>
    </>
  );
}

const help = (input: HTMLElement) => document.getElementById(input.getAttribute("aria-describedby")!.split(" ")[0])?.textContent;

describe("a declared parameter schema", () => {
  it("becomes a select for each choice, inputs prefilled with defaults, required ones marked", () => {
    render(<Harness form={form} />);
    const region = screen.getByLabelText("region") as HTMLSelectElement;
    expect(region.tagName).toBe("SELECT");
    expect(region.value).toBe('"eu"');
    expect([...region.options].slice(1).map((o) => o.textContent)).toEqual(["eu", "us"]);
    expect(help(region)).toBe('Where to load · default "eu"');
    const limit = screen.getByLabelText("limit") as HTMLInputElement;
    expect(limit.value).toBe("100");
    expect(limit.required).toBe(false);
    expect(help(limit)).toBe("Row limit · default 100");
    const day = screen.getByLabelText("day") as HTMLInputElement;
    expect(day.type).toBe("date");
    expect(day.required).toBe(true);
    expect(help(day)).toBe("Required · The day to load · a date (YYYY-MM-DD)");
    const mode = screen.getByLabelText("mode") as HTMLSelectElement;
    expect(mode.required).toBe(true);
    expect([...mode.options].slice(1).map((o) => o.textContent)).toEqual(["full", "delta"]);
    expect((screen.getByLabelText("dry_run") as HTMLInputElement).checked).toBe(false);
    // additionalProperties: false: no JSON text for other parameters.
    expect(screen.queryByLabelText("Other parameters (JSON object)")).toBeNull();
    expect(screen.getAllByTitle("required")).toHaveLength(2);
  });

  it("sends the values chosen, and refuses what is missing before asking the server", () => {
    render(<Harness form={form} />);
    const before = JSON.parse(screen.getByRole("status").textContent!) as { values: object; errors: object };
    expect(before.errors).toEqual({ day: "Required.", mode: "Required." });
    fireEvent.change(screen.getByLabelText("day"), { target: { value: "2026-12-07" } });
    fireEvent.change(screen.getByLabelText("mode"), { target: { value: '"delta"' } });
    fireEvent.change(screen.getByLabelText("region"), { target: { value: '"us"' } });
    const after = JSON.parse(screen.getByRole("status").textContent!) as { values: object; errors: object };
    expect(after).toEqual({
      values: { region: "us", limit: 100, day: "2026-12-07", mode: "delta", dry_run: false },
      errors: {},
    });
  });

  it("fills a run's parameters back in, and lists the parameters with their words", () => {
    const state: ParametersState = initialState(form, { day: "2026-01-02", mode: "full", limit: 5, region: "us", dry_run: true });
    expect(state.raw).toEqual({ region: '"us"', limit: "5", day: "2026-01-02", mode: '"full"', dry_run: true });
    expect(parameterRows(declared)).toEqual([
      { name: "region", type: '"eu" | "us"', required: false, defaultValue: '"eu"', description: "Where to load" },
      { name: "limit", type: "integer", required: false, defaultValue: "100", description: "Row limit" },
      { name: "day", type: "string (date)", required: true, description: "The day to load" },
      { name: "mode", type: '"full" | "delta"', required: true },
      { name: "dry_run", type: "boolean", required: false, defaultValue: "false" },
    ]);
  });
});
