// Reads the settings pages share. Keys carry the org in force, as the other pages' do.
import { useQuery } from "@tanstack/react-query";
import { api, session, unwrap } from "../../api/client";

/** `GET /v1/ui/settings`: the sections the caller may open and its preferences (email, org, role). */
export function useSettingsConfig() {
  return useQuery({
    queryKey: ["ui", "settings", session.orgId()],
    queryFn: async () => unwrap(await api.GET("/v1/ui/settings")),
  });
}

/** `GET /v1/orgs/{org_id}/roles`: the role → permissions matrix (needs admin.members). */
export function useRoleMatrix(orgId: string | null) {
  return useQuery({
    queryKey: ["org-roles", orgId],
    enabled: orgId !== null,
    staleTime: Infinity,
    queryFn: async () => unwrap(await api.GET("/v1/orgs/{org_id}/roles", { params: { path: { org_id: orgId! } } })).roles,
  });
}
