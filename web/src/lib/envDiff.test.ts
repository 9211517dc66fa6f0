import { describe, expect, it } from "vitest";
import type { Schemas } from "../api/client";
import { diffEffect, diffRows, nextEnvironment, olderVersions, promotedName, promotionPlan, variableRows } from "./envDiff";

const item = (deployment_name: string, flow_name: string, flow_version: string) => ({
  deployment_name,
  flow_name,
  flow_version,
  updated_at: "2026-01-01T00:00:00Z",
});

const diff: Schemas["EnvironmentDiff"] = {
  source_environment: "staging",
  target_environment: "production",
  only_in_source: [item("hello-staging", "hello", "2"), item("nightly", "reports", "1")],
  only_in_target: [item("legacy-production", "legacy", "7")],
  version_differs: [
    { flow_name: "daily", source: item("daily-staging", "daily", "3"), target: item("daily-prod", "daily", "2") },
  ],
};

describe("diffRows", () => {
  it("puts every flow in one row, by flow name", () => {
    expect(diffRows(diff).map((r) => [r.flow, r.kind])).toEqual([
      ["daily", "differs"],
      ["hello", "only_source"],
      ["legacy", "only_target"],
      ["reports", "only_source"],
    ]);
  });

  it("says what a promotion does to each", () => {
    const [daily, hello, legacy] = diffRows(diff);
    expect(diffEffect(daily, "production")).toBe("Promotion moves daily-prod from version 2 to 3.");
    expect(diffEffect(hello, "production")).toBe("Promotion creates it in production.");
    expect(diffEffect(legacy, "production")).toBe("Promotion leaves it as it is.");
  });
});

describe("promotionPlan", () => {
  it("creates what only the source has and moves the target's deployment of each other version", () => {
    expect(promotionPlan(diff)).toEqual([
      { flow: "daily", sourceDeployment: "daily-staging", targetDeployment: "daily-prod", fromVersion: "2", toVersion: "3" },
      { flow: "hello", sourceDeployment: "hello-staging", targetDeployment: "hello-production", fromVersion: null, toVersion: "2" },
      { flow: "reports", sourceDeployment: "nightly", targetDeployment: "reports-production", fromVersion: null, toVersion: "1" },
    ]);
  });

  it("names new deployments as the API does", () => {
    expect(promotedName("etl-staging", "etl", "staging", "production")).toBe("etl-production");
    expect(promotedName("etl-staging-eu", "etl", "staging", "production")).toBe("etl-production");
    expect(promotedName("my-staging-flow", "etl", "staging", "production")).toBe("etl-production");
  });
});

describe("variableRows", () => {
  it("lists only the keys that differ", () => {
    expect(variableRows({ A: "1", B: "2", C: "x" }, { B: "3", C: "x", D: "4" })).toEqual([
      { key: "A", kind: "only_source", source: "1" },
      { key: "B", kind: "differs", source: "2", target: "3" },
      { key: "D", kind: "only_target", target: "4" },
    ]);
  });
});

describe("nextEnvironment", () => {
  it("is the one after in the promotion order", () => {
    expect(nextEnvironment(["dev", "staging", "prod"], "dev")).toBe("staging");
    expect(nextEnvironment(["dev", "staging", "prod"], "prod")).toBeUndefined();
    expect(nextEnvironment(["dev"], "gone")).toBeUndefined();
  });
});

describe("olderVersions", () => {
  const version = (flow_version: string, deployment_version: number) => ({
    flow_version,
    deployment_version,
    artifact_s3_uri: null,
    status: "inactive",
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  });
  const versions = [version("1.0", 1), version("3.0", 3), version("2.0", 2), version("4.0", 4)];

  it("lists the versions registered before the current one, newest first", () => {
    expect(olderVersions(versions, "3.0").map((v) => v.flow_version)).toEqual(["2.0", "1.0"]);
    expect(olderVersions(versions, "1.0")).toEqual([]);
    expect(olderVersions(versions, "9.9")).toEqual([]);
  });
});
