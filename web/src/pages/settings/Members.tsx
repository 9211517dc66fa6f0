import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api, session, unwrap, type Schemas } from "../../api/client";
import { CopyButton, ErrorNote } from "../../components/common";
import { when } from "../../components/StatusBadge";
import { allPermissions, grantableRoles, mayChangeRole, type Role, type RoleMatrix } from "../../lib/settings";
import { Field } from "./Field";
import { useRoleMatrix, useSettingsConfig } from "./queries";

/** Members of the org in force: add one with a role, change roles (`admin.members`). */
export function Members() {
  const orgId = session.orgId();
  const me = useSettingsConfig().data?.preferences;
  const roles = useRoleMatrix(orgId);
  const members = useQuery({
    queryKey: ["members", orgId],
    enabled: orgId !== null,
    queryFn: async () => unwrap(await api.GET("/v1/orgs/{org_id}/members", { params: { path: { org_id: orgId! } } })),
  });
  const grantable = roles.data ? grantableRoles(roles.data, me?.role) : [];
  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <p className="lead">
        People in {me?.org_name ?? "this organization"} and their roles. Only an owner gives or takes away the owner role, and an
        organization keeps at least one owner.
      </p>
      {orgId === null && <p role="alert">Choose an organization in the top bar first.</p>}
      <ErrorNote error={roles.error} />

      <h2 id="member-list-title">People</h2>
      {members.isPending && orgId && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={members.error} />
      {orgId && members.data && (
        <MemberTable orgId={orgId} members={members.data.items} grantable={grantable} myEmail={me?.email} myRole={me?.role} />
      )}
      {orgId && grantable.length > 0 && <AddMember orgId={orgId} roles={grantable} />}
      {roles.data && <RoleMatrixTable matrix={roles.data} />}
    </section>
  );
}

function AddMember({ orgId, roles }: { orgId: string; roles: Role[] }) {
  const queries = useQueryClient();
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>(roles.includes("developer") ? "developer" : roles[roles.length - 1]);
  const add = useMutation({
    mutationFn: async (body: Schemas["MemberCreate"]) =>
      unwrap(await api.POST("/v1/orgs/{org_id}/members", { params: { path: { org_id: orgId } }, body })),
    gcTime: 0, // the answer may hold an invitation token: never kept once dismissed
    onSuccess: () => {
      setEmail("");
      void queries.invalidateQueries({ queryKey: ["members", orgId] });
    },
  });
  return (
    <>
      <h2 id="add-member-title">Add a member</h2>
      <form
        className="inline-form"
        aria-labelledby="add-member-title"
        onSubmit={(e) => {
          e.preventDefault();
          add.mutate({ email: email.trim(), role });
        }}
      >
        <Field label="Email">
          <input type="email" required autoComplete="off" value={email} onChange={(e) => setEmail(e.target.value)} />
        </Field>
        <Field label="Role">
          <select value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {roles.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </Field>
        <button type="submit" className="button primary" disabled={add.isPending}>{add.isPending ? "Adding…" : "Add member"}</button>
      </form>
      <ErrorNote error={add.error} />
      {add.data && <Added member={add.data} onDone={() => add.reset()} />}
    </>
  );
}

/** What the inviter does next: share the invitation token (a server in password mode gives one,
 * once), or tell the person to sign in with their email. */
function Added({ member, onDone }: { member: Schemas["MemberCreated"]; onDone: () => void }) {
  return (
    <div className="notice" role="status">
      <p><strong>{member.email}</strong> was added as {member.role}; they are <em>{member.status}</em> until they first sign in.</p>
      {member.invitation_token ? (
        <>
          <p>
            Send them this invitation token. <strong>You will not see it again.</strong> They redeem it within 7 days with{" "}
            <code>POST /v1/auth/invitations/accept {"{"}"invitation_token", "password"{"}"}</code>, which sets their password.
          </p>
          <div className="reveal">
            <code aria-label="Invitation token">{member.invitation_token}</code>
            <CopyButton value={member.invitation_token} label="Copy token" />
          </div>
        </>
      ) : (
        <p>They can sign in now with their email address.</p>
      )}
      <button type="button" className="button" onClick={onDone}>Done</button>
    </div>
  );
}

type TableProps = {
  orgId: string;
  members: Schemas["MemberRead"][];
  grantable: Role[];
  myEmail: string | null | undefined;
  myRole: string | null | undefined;
};

function MemberTable({ orgId, members, grantable, myEmail, myRole }: TableProps) {
  const queries = useQueryClient();
  const [changed, setChanged] = useState("");
  const change = useMutation({
    mutationFn: async ({ email, role }: { email: string; role: Role }) =>
      unwrap(await api.PATCH("/v1/orgs/{org_id}/members/{email}/role", { params: { path: { org_id: orgId, email } }, body: { role } })),
    onMutate: () => setChanged(""),
    onSuccess: (updated) => {
      setChanged(`${updated.email} is now ${updated.role}.`);
      // Changing one's own role changes what every page may show.
      void queries.invalidateQueries(updated.email === myEmail ? undefined : { queryKey: ["members", orgId] });
    },
  });
  return (
    <>
      <ErrorNote error={change.error} />
      <p aria-live="polite" className="hint">{changed}</p>
      <table aria-labelledby="member-list-title">
        <thead>
          <tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Status</th><th scope="col">Joined</th></tr>
        </thead>
        <tbody>
          {members.map((member) => {
            const editable = grantable.length > 0 && mayChangeRole(member.role, myRole);
            const options = grantable.includes(member.role as Role) ? grantable : [member.role as Role, ...grantable];
            return (
              <tr key={member.member_id}>
                <td>{member.email} {member.email === myEmail && <span className="badge">you</span>}</td>
                <td>
                  <select
                    aria-label={`Role of ${member.email}`}
                    value={member.role}
                    disabled={!editable || (change.isPending && change.variables?.email === member.email)}
                    onChange={(e) => change.mutate({ email: member.email, role: e.target.value as Role })}
                  >
                    {options.map((r) => <option key={r} value={r}>{r}</option>)}
                  </select>
                </td>
                <td><span className={`badge member-${member.status}`}>{member.status}</span></td>
                <td>{member.joined_at ? when(member.joined_at) : "Not yet"}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

function RoleMatrixTable({ matrix }: { matrix: RoleMatrix }) {
  const roles = Object.keys(matrix);
  return (
    <details className="role-matrix">
      <summary>What each role can do</summary>
      <table>
        <thead>
          <tr><th scope="col">Permission</th>{roles.map((role) => <th key={role} scope="col">{role}</th>)}</tr>
        </thead>
        <tbody>
          {allPermissions(matrix).map((permission) => (
            <tr key={permission}>
              <th scope="row"><code>{permission}</code></th>
              {roles.map((role) => (
                <td key={role}>{matrix[role].includes(permission) ? <Mark text="yes" sign="✓" /> : <Mark text="no" sign="–" />}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}

function Mark({ text, sign }: { text: string; sign: string }) {
  return <><span aria-hidden="true">{sign}</span><span className="visually-hidden">{text}</span></>;
}
