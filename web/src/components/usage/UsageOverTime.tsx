import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { bucketLabel, duration, GRANULARITIES, groupDays, PERIODS, usd, type Granularity, type Period, type UsageDay } from "../../lib/usage";
import { ChartFigure, chartTheme } from "./ChartFigure";

export const METRICS = {
  cost_usd: { label: "Cost", format: usd },
  run_count: { label: "Runs", format: (n: number) => n.toLocaleString() },
  task_count: { label: "Tasks", format: (n: number) => n.toLocaleString() },
  compute_seconds: { label: "Compute time", format: duration },
  api_call_count: { label: "API calls", format: (n: number) => n.toLocaleString() },
  error_count: { label: "Errors", format: (n: number) => n.toLocaleString() },
} as const;
export type Metric = keyof typeof METRICS;

/** The chosen metric bucket by bucket (`GET /v1/usage/timeseries`, grouped here by week or month). */
export function UsageOverTime({ days, period, granularity, metric }: { days: UsageDay[]; period: Period; granularity: Granularity; metric: Metric }) {
  const { label, format } = METRICS[metric];
  const rows = groupDays(days, granularity).map((bucket) => ({ ...bucket, label: bucketLabel(bucket.date, granularity) }));
  const total = rows.reduce((sum, row) => sum + row[metric], 0);
  const peak = rows.reduce<(typeof rows)[number] | null>((best, row) => (row[metric] > (best?.[metric] ?? 0) ? row : best), null);
  const caption = `${label} by ${GRANULARITIES[granularity].toLowerCase()}, ${PERIODS[period].toLowerCase()}: ${format(total)} in total${
    peak ? `, highest ${granularity === "day" ? "on" : "in"} ${peak.label} (${format(peak[metric])})` : ""
  }.`;
  return (
    <ChartFigure
      title={`${label} over time`}
      caption={caption}
      chart={
        <ResponsiveContainer width="100%" height={280}>
          <BarChart accessibilityLayer={false} data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 8 }}>
            <CartesianGrid stroke={chartTheme.grid} vertical={false} />
            <XAxis dataKey="label" tick={chartTheme.axis} stroke={chartTheme.grid} minTickGap={16} />
            <YAxis tick={chartTheme.axis} stroke={chartTheme.grid} tickFormatter={(v: number) => format(v)} width={80} allowDecimals={metric === "cost_usd" || metric === "compute_seconds"} />
            <Tooltip {...chartTheme.tooltip} formatter={(value) => [format(Number(value)), label]} />
            <Bar dataKey={metric} name={label} fill={chartTheme.series[0]} radius={[3, 3, 0, 0]} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      }
      table={
        <div className="table-scroll">
          <table>
            <caption className="visually-hidden">{label} over time</caption>
            <thead>
              <tr>
                <th scope="col">{GRANULARITIES[granularity]}</th>
                {Object.values(METRICS).map((m) => <th key={m.label} scope="col" className="num">{m.label}</th>)}
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.date}>
                  <th scope="row">{row.label}</th>
                  {(Object.keys(METRICS) as Metric[]).map((key) => <td key={key} className="num">{METRICS[key].format(row[key])}</td>)}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      }
    />
  );
}
