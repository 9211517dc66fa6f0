import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FlowFiltersForm } from "./FlowFilters";

afterEach(cleanup);

describe("FlowFiltersForm", () => {
  const filters = { q: "sales", namespace: "", tags: ["team=data"], page: 1 };

  it("shows the filters in force, each tag as a removable chip", () => {
    render(<FlowFiltersForm filters={filters} namespaces={["data"]} tags={["team=data", "tier=gold"]} onChange={() => {}} />);
    expect(screen.getByRole("searchbox", { name: "Search by name" })).toHaveProperty("value", "sales");
    expect(screen.getByRole("button", { name: "Remove tag filter team: data" })).toBeTruthy();
    // A tag already filtered on is not offered again.
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["Any", "data", "Add a tag filter…", "tier: gold"]);
  });

  it("reports each change: typing replaces the history entry, the other filters add one", () => {
    const onChange = vi.fn();
    render(<FlowFiltersForm filters={filters} namespaces={["data"]} tags={["team=data", "tier=gold"]} onChange={onChange} />);
    fireEvent.change(screen.getByLabelText("Search by name"), { target: { value: "daily" } });
    expect(onChange).toHaveBeenLastCalledWith({ q: "daily" }, true);
    fireEvent.change(screen.getByLabelText("Tag"), { target: { value: "tier=gold" } });
    expect(onChange).toHaveBeenLastCalledWith({ tags: ["team=data", "tier=gold"] });
    fireEvent.click(screen.getByRole("button", { name: "Remove tag filter team: data" }));
    expect(onChange).toHaveBeenLastCalledWith({ tags: [] });
    fireEvent.click(screen.getByRole("button", { name: "Clear filters" }));
    expect(onChange).toHaveBeenLastCalledWith({ q: "", namespace: "", tags: [] });
  });
});
