/** An org's status, in words and in its colour (active green, suspended red). */
export function OrgStatus({ status }: { status: string }) {
  return <span className={`badge org-${status}`}>{status}</span>;
}
