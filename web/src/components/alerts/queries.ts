// The notifications page's reads, each list read to its end (an org has few channels and rules,
// and the rule form offers every channel).
import { useQuery } from "@tanstack/react-query";
import { api, session, unwrap } from "../../api/client";
import { readAll } from "../../lib/flowsQueries";

export const alertKeys = {
  channels: () => ["channels", session.orgId()] as const,
  channel: (id: string) => ["channels", session.orgId(), id] as const,
  rules: () => ["alert-rules", session.orgId()] as const,
  deliveries: (ruleId: string) => ["alert-rules", session.orgId(), ruleId, "deliveries"] as const,
};

export function useChannels() {
  return useQuery({
    queryKey: alertKeys.channels(),
    queryFn: () => readAll(async (next_token) => unwrap(await api.GET("/v1/channels", { params: { query: { limit: 100, next_token } } }))),
  });
}

export function useRules() {
  return useQuery({
    queryKey: alertKeys.rules(),
    queryFn: () => readAll(async (next_token) => unwrap(await api.GET("/v1/alert-rules", { params: { query: { limit: 100, next_token } } }))),
  });
}
