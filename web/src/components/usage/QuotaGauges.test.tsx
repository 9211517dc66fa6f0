import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { renderPage } from "../../pages/settings/testing";
import { ChartFigure } from "./ChartFigure";
import { QuotaGauges } from "./QuotaGauges";

afterEach(cleanup);

const quota = {
  plan: "free",
  limits: { monthly_runs: 100, monthly_tasks: 1000, concurrent_runs: null, max_run_duration_seconds: 3600 },
  current_usage: { monthly_runs: 85, monthly_tasks: 10, concurrent_runs: 1 },
  percentages: { monthly_runs: 85, monthly_tasks: 1, concurrent_runs: null },
  warning: true,
  over_limit: false,
  reset_at: "2026-04-01T00:00:00Z",
};

describe("QuotaGauges", () => {
  it("says a gauge is near its limit, in text and to screen readers, with the API's warning as a banner", () => {
    renderPage(<QuotaGauges quota={quota} />);
    expect(screen.getByRole("status").textContent).toContain("80 % or more");
    expect(screen.getByRole("meter", { name: "Runs this month" }).getAttribute("aria-valuetext")).toBe("85 of 100 (85%), near the limit");
    expect(screen.getByRole("meter", { name: "Concurrent runs" }).getAttribute("aria-valuetext")).toBe("1 used, no limit, unlimited");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("shows the over-limit flag as an alert", () => {
    renderPage(<QuotaGauges quota={{ ...quota, over_limit: true }} />);
    expect(screen.getByRole("alert").textContent).toContain("A limit is reached");
  });
});

describe("ChartFigure", () => {
  it("swaps the chart for its table and back", () => {
    renderPage(<ChartFigure title="Cost" caption="$1 in total." chart={<svg data-testid="chart" />} table={<table aria-label="numbers" />} />);
    expect(screen.getByRole("figure", { name: /^Cost\s+\$1 in total\.$/ })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Show table" }));
    expect(screen.getByRole("table", { name: "numbers" })).toBeTruthy();
    expect(screen.queryByTestId("chart")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Show chart" }));
    expect(screen.getByTestId("chart")).toBeTruthy();
  });
});
