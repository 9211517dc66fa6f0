import { describe, expect, it } from "vitest";
import { customerQuery, formatBytes, formatComputeSeconds, hasCustomerFilters, readCustomerFilters, traceFetchTarget } from "./admin";

describe("customer filters", () => {
  it("reads known values and ignores others", () => {
    const filters = readCustomerFilters(new URLSearchParams("search=%20acme%20&status=suspended&plan=gold"));
    expect(filters).toEqual({ search: "acme", status: "suspended", plan: "" });
    expect(hasCustomerFilters(filters)).toBe(true);
    expect(hasCustomerFilters(readCustomerFilters(new URLSearchParams()))).toBe(false);
  });

  it("leaves empty filters out of the query", () => {
    expect(customerQuery({ search: "", status: "", plan: "" })).toEqual({});
    expect(customerQuery({ search: "acme", status: "active", plan: "pro" })).toEqual({ search: "acme", status: "active", plan: "pro" });
  });
});

describe("formats", () => {
  it("compute time", () => {
    expect(formatComputeSeconds(12.5)).toBe("12.5 s");
    expect(formatComputeSeconds(90)).toBe("1.5 min");
    expect(formatComputeSeconds(7200)).toBe("2 h");
  });

  it("sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(2048)).toBe("2.0 KB");
  });
});

describe("traceFetchTarget", () => {
  it("fetches the server's content route on the page's origin, with the token", () => {
    expect(traceFetchTarget("http://127.0.0.1:8000/v1/admin/exceptions/content?key=trace_1", "http://localhost:5173")).toEqual({
      url: "http://localhost:5173/v1/admin/exceptions/content?key=trace_1",
      withToken: true,
    });
  });

  it("fetches a presigned URL as it is, without the token", () => {
    const presigned = "https://s3.example.com/bucket/exceptions/trace_1.json?X-Amz-Signature=abc";
    expect(traceFetchTarget(presigned, "http://localhost:5173")).toEqual({ url: presigned, withToken: false });
  });
});
