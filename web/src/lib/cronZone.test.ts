import { describe, expect, test } from "vitest";
import { inputToWall, isKnownZone, localInstant, offsetAt, timeZoneNames, wallClockOf, wallToInput } from "./cronZone";

const at = (iso: string) => Date.parse(iso);
const wall = (value: string) => inputToWall(value)!;

describe("wall clocks", () => {
  test("offsets, either side of a change", () => {
    expect(offsetAt(at("2026-03-08T06:59:59Z"), "America/New_York")).toBe(-5 * 3600_000);
    expect(offsetAt(at("2026-03-08T07:00:00Z"), "America/New_York")).toBe(-4 * 3600_000);
    expect(offsetAt(at("2026-01-01T00:00:00Z"), "Asia/Kolkata")).toBe(5.5 * 3600_000);
  });

  test("a wall time that exists once", () => {
    expect(localInstant(wall("2026-07-01T09:00"), "Europe/Paris")).toBe(at("2026-07-01T07:00:00Z"));
    expect(wallClockOf(at("2026-07-01T07:00:00Z"), "Europe/Paris")).toBe(wall("2026-07-01T09:00"));
  });

  test("a wall time in a gap is the end of the gap", () => {
    expect(localInstant(wall("2026-03-08T02:30"), "America/New_York")).toBe(at("2026-03-08T07:00:00Z"));
    expect(localInstant(wall("2026-03-29T02:59"), "Europe/Paris")).toBe(at("2026-03-29T01:00:00Z"));
  });

  test("a repeated wall time is its first occurrence", () => {
    expect(localInstant(wall("2026-11-01T01:30"), "America/New_York")).toBe(at("2026-11-01T05:30:00Z"));
  });

  test("datetime-local values", () => {
    expect(wallToInput(wall("2026-12-01T09:05"))).toBe("2026-12-01T09:05");
    expect(inputToWall("")).toBeNull();
    expect(inputToWall("2026-12-01")).toBeNull();
  });

  test("zones", () => {
    expect(isKnownZone("Europe/Paris")).toBe(true);
    expect(isKnownZone("Mars/Olympus")).toBe(false);
    expect(isKnownZone("")).toBe(false);
    expect(timeZoneNames()[0]).toBe("UTC");
    expect(timeZoneNames()).toContain("America/New_York");
  });
});
