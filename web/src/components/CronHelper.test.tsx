import { cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import { afterEach, expect, test, vi } from "vitest";
import { newScheduleForm } from "../lib/schedule";
import { CronHelper } from "./CronHelper";
import { SchedulePreview } from "./SchedulePreview";

afterEach(cleanup);

test("a preset writes the expression, and its inputs adjust it", () => {
  const onPick = vi.fn();
  render(<CronHelper onPick={onPick} />);
  fireEvent.change(screen.getByLabelText("Preset"), { target: { value: "weekdays" } });
  expect(onPick).toHaveBeenLastCalledWith("0 9 * * 1-5");
  fireEvent.change(screen.getByLabelText("Time of day"), { target: { value: "07:30" } });
  expect(onPick).toHaveBeenLastCalledWith("30 7 * * 1-5");
  fireEvent.change(screen.getByLabelText("Preset"), { target: { value: "weekly" } });
  fireEvent.change(screen.getByLabelText("Day of the week"), { target: { value: "5" } });
  expect(onPick).toHaveBeenLastCalledWith("30 7 * * 5");
});

test("the preview says what the expression means and lists the next five fire times", () => {
  render(<SchedulePreview form={{ ...newScheduleForm("UTC"), cronExpression: "0 9 * * 1-5" }} />);
  expect(screen.getByText("At 09:00, Monday through Friday")).toBeTruthy();
  expect(within(screen.getByRole("list", { name: "Next fire times" })).getAllByRole("listitem")).toHaveLength(5);
});

test("the preview explains an expression it cannot use", () => {
  render(<SchedulePreview form={{ ...newScheduleForm("UTC"), cronExpression: "61 * * * *" }} />);
  expect(screen.getByText("Fix the cron expression to see when it runs.")).toBeTruthy();
  expect(screen.queryByRole("list")).toBeNull();
});
