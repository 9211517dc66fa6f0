// The super-admin console's pure logic and shared queries: the customer filters as URL
// parameters and as the API's query, number formats, and where an exception trace is downloaded.
import { api, RequestFailed, session, unwrap, type ApiError } from "../api/client";

/** The plans PATCH /admin/customers accepts (the server's PLAN_PATTERN). */
export const PLANS = ["free", "starter", "professional", "pro", "enterprise"] as const;
export const STATUSES = ["active", "suspended"] as const;

export type CustomerFilters = { search: string; status: string; plan: string };

/** The list's filters from the page's URL (unknown values are ignored, not sent). */
export function readCustomerFilters(params: URLSearchParams): CustomerFilters {
  const status = params.get("status") ?? "";
  const plan = params.get("plan") ?? "";
  return {
    search: (params.get("search") ?? "").trim(),
    status: (STATUSES as readonly string[]).includes(status) ? status : "",
    plan: (PLANS as readonly string[]).includes(plan) ? plan : "",
  };
}

/** The filters as GET /v1/admin/customers's query: an empty filter is left out (the API
 * refuses an empty `search`). */
export function customerQuery(filters: CustomerFilters): { search?: string; status?: "active" | "suspended"; plan?: string } {
  return {
    ...(filters.search ? { search: filters.search.slice(0, 128) } : {}),
    ...(filters.status ? { status: filters.status as "active" | "suspended" } : {}),
    ...(filters.plan ? { plan: filters.plan } : {}),
  };
}

export function hasCustomerFilters(filters: CustomerFilters): boolean {
  return Boolean(filters.search || filters.status || filters.plan);
}

const integer = new Intl.NumberFormat("en-US");
const credits = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });
const usd = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });

export const formatCount = (n: number) => integer.format(n);
export const formatCredits = (n: number) => credits.format(n);
export const formatUsd = (n: number) => usd.format(n);

/** Compute time as people read it: seconds under a minute, else minutes, else hours. */
export function formatComputeSeconds(seconds: number): string {
  if (seconds < 60) return `${credits.format(seconds)} s`;
  if (seconds < 3600) return `${credits.format(seconds / 60)} min`;
  return `${credits.format(seconds / 3600)} h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * How to fetch a trace's download URL. A local trace folder answers the server's own content
 * route, which needs the super admin's bearer token: it is fetched on this page's origin (the URL
 * the server builds names its own host, which behind a dev proxy is not the page's). An S3
 * presigned URL is fetched as it is, and never gets the token (another host; it is signed).
 */
export function traceFetchTarget(downloadUrl: string, origin: string): { url: string; withToken: boolean } {
  const url = new URL(downloadUrl, origin);
  if (url.pathname === "/v1/admin/exceptions/content") return { url: `${origin}${url.pathname}${url.search}`, withToken: true };
  return { url: url.href, withToken: false };
}

/** Saves `blob` as a file named `name` (an object URL on a transient link, then revoked). */
export function saveBlob(blob: Blob, name: string): void {
  const href = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = href;
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  // Revoked after the click has started the download.
  setTimeout(() => URL.revokeObjectURL(href), 0);
}

/** Downloads one exception trace as `<key>.json`. */
export async function downloadTrace(key: string): Promise<void> {
  const { download_url } = unwrap(await api.GET("/v1/admin/exceptions/download", { params: { query: { key } } }));
  const target = traceFetchTarget(download_url, window.location.origin);
  const token = session.token();
  const response = await fetch(target.url, target.withToken && token ? { headers: { Authorization: `Bearer ${token}` } } : undefined);
  if (!response.ok) throw new RequestFailed(response.status, (await response.json().catch(() => undefined)) as ApiError | undefined);
  saveBlob(await response.blob(), `${key}.json`);
}

/** Who the caller is; `super_admin` opens the console. Its own key: other pages may read
 * /v1/users/me under theirs, and this one is kept a while (the flag changes with a restart). */
export const meQuery = {
  queryKey: ["admin", "me"] as const,
  queryFn: async () => unwrap(await api.GET("/v1/users/me")),
  staleTime: 5 * 60_000,
};
