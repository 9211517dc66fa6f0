/** A run's or node's status, in words and in its colour (`.status-<status>`). */
export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge status-${status}`}>{status.replace(/-/g, " ")}</span>;
}

export function when(value: string | null | undefined): string {
  return value ? new Date(value).toLocaleString() : "—";
}
