import { useId, useState, type ReactNode } from "react";

/**
 * A chart with its text equivalents: a caption that says what it shows and what stands out, and a
 * toggle to the same numbers as a table (what a screen reader, or anyone who wants exact figures,
 * reads). The chart's SVG is hidden from assistive technology (and, with Recharts'
 * `accessibilityLayer` off, out of the tab order): the caption and table say it all.
 */
export function ChartFigure({ title, caption, chart, table }: { title: string; caption: ReactNode; chart: ReactNode; table: ReactNode }) {
  const [asTable, setAsTable] = useState(false);
  const captionId = useId();
  return (
    <figure className="chart-figure" aria-labelledby={captionId}>
      <div className="chart-head">
        <figcaption id={captionId}>
          <strong>{title}</strong>{" "}
          <span className="hint">{caption}</span>
        </figcaption>
        <button type="button" className="button" aria-pressed={asTable} onClick={() => setAsTable(!asTable)}>
          {asTable ? "Show chart" : "Show table"}
        </button>
      </div>
      {asTable ? table : <div className="chart" aria-hidden="true">{chart}</div>}
    </figure>
  );
}

/** Recharts' colours and text as the theme's CSS variables, so light and dark both read well. */
export const chartTheme = {
  grid: "var(--border)",
  axis: { fill: "var(--muted)", fontSize: 12 },
  tooltip: {
    contentStyle: { background: "var(--bg)", border: "1px solid var(--border)", borderRadius: 6, color: "var(--fg)" },
    labelStyle: { color: "var(--fg)" },
    itemStyle: { color: "var(--fg)" },
    cursor: { fill: "var(--card)" },
  },
  series: ["var(--accent)", "var(--ok)", "var(--wait)", "var(--run)", "var(--bad)", "var(--off)"],
};
