import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it } from "vitest";
import { formFromSchema, initialState, JSON_ERROR, type ParamForm } from "../lib/runsParameters";
import { RunParametersForm } from "./RunParametersForm";

afterEach(cleanup);

const form = formFromSchema({
  type: "object",
  properties: {
    limit: { type: "integer", "x-python-type": "int" },
    region: { enum: ["eu", "us"], default: "eu" },
    dry_run: { type: "boolean", default: false },
    tags: { type: "array", items: { type: "string" } },
  },
  required: ["limit"],
  additionalProperties: false,
});

function Harness({ form, errors = {} }: { form: ParamForm | null; errors?: Record<string, string> }) {
  const [state, setState] = useState(() => initialState(form));
  return (
    <>
      <RunParametersForm form={form} state={state} errors={errors} onChange={setState} />
      <output>{JSON.stringify(state.raw)}</output>
    </>
  );
}

describe("RunParametersForm", () => {
  it("labels an input per parameter, required ones marked, defaults filled in", () => {
    render(<Harness form={form} />);
    const limit = screen.getByLabelText("limit") as HTMLInputElement;
    expect(limit.required).toBe(true);
    expect(document.getElementById(limit.getAttribute("aria-describedby")!)?.textContent).toBe("Required · Python type int");
    expect((screen.getByLabelText("region") as HTMLSelectElement).value).toBe('"eu"');
    expect((screen.getByLabelText("dry_run") as HTMLInputElement).checked).toBe(false);
    expect(screen.getByLabelText("tags").tagName).toBe("TEXTAREA");
    expect(screen.queryByLabelText("Other parameters (JSON object)")).toBeNull();
  });

  it("keeps what is typed and shows each field's error", () => {
    render(<Harness form={form} errors={{ limit: "Must be a whole number." }} />);
    fireEvent.change(screen.getByLabelText("limit"), { target: { value: "12" } });
    fireEvent.click(screen.getByLabelText("dry_run"));
    expect(JSON.parse(screen.getByRole("status").textContent!)).toMatchObject({ limit: "12", dry_run: true });
    expect(screen.getByLabelText("limit").getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Must be a whole number.")).toBeTruthy();
  });

  it("asks for a JSON object when the version has no schema", () => {
    render(<Harness form={null} errors={{ [JSON_ERROR]: "Must be a JSON object." }} />);
    expect((screen.getByLabelText("Parameters (JSON object)") as HTMLTextAreaElement).value).toBe("{}");
    expect(screen.getByText("Must be a JSON object.")).toBeTruthy();
  });
});
