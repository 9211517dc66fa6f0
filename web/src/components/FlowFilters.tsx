// The flows list's search box and filters; each change goes straight to the URL.
import { hasFilters, tagLabel, type FlowFilters } from "../lib/flowsFilter";

export function FlowFiltersForm({
  filters,
  namespaces,
  tags,
  onChange,
}: {
  filters: FlowFilters;
  namespaces: string[];
  tags: string[];
  /** `replace`: a keystroke in the search box replaces the history entry instead of adding one. */
  onChange: (change: Partial<FlowFilters>, replace?: boolean) => void;
}) {
  const unused = tags.filter((t) => !filters.tags.includes(t));
  return (
    <form role="search" aria-label="Filter flows" className="fl-filters" onSubmit={(e) => e.preventDefault()}>
      <label>
        <span>Search by name</span>
        <input type="search" value={filters.q} onChange={(e) => onChange({ q: e.target.value }, true)} />
      </label>
      <label>
        <span>Namespace</span>
        <select value={filters.namespace} onChange={(e) => onChange({ namespace: e.target.value })}>
          <option value="">Any</option>
          {/* A namespace in the URL that no flow uses any more still shows as chosen. */}
          {filters.namespace && !namespaces.includes(filters.namespace) && <option value={filters.namespace}>{filters.namespace}</option>}
          {namespaces.map((ns) => <option key={ns} value={ns}>{ns}</option>)}
        </select>
      </label>
      <label>
        <span>Tag</span>
        <select value="" onChange={(e) => e.target.value && onChange({ tags: [...filters.tags, e.target.value] })} disabled={unused.length === 0}>
          <option value="">{tags.length === 0 ? "No tags" : unused.length ? "Add a tag filter…" : "No other tags"}</option>
          {unused.map((tag) => <option key={tag} value={tag}>{tagLabel(tag)}</option>)}
        </select>
      </label>
      {filters.tags.length > 0 && (
        <ul className="fl-chips" aria-label="Tag filters">
          {filters.tags.map((tag) => (
            <li key={tag}>
              <button
                type="button"
                className="fl-chip"
                aria-label={`Remove tag filter ${tagLabel(tag)}`}
                onClick={() => onChange({ tags: filters.tags.filter((t) => t !== tag) })}
              >
                {tagLabel(tag)} <span aria-hidden="true">×</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {hasFilters(filters) && (
        <button type="button" className="button" onClick={() => onChange({ q: "", namespace: "", tags: [] })}>
          Clear filters
        </button>
      )}
    </form>
  );
}
