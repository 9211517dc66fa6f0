import { Bar, BarChart, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { usd } from "../../lib/usage";
import { ChartFigure, chartTheme } from "./ChartFigure";

const TOP = 10; // bars beyond this are in the table only

/** Costs of the period by flow and by executor (`GET /v1/usage/costs`), most costly first. */
export function CostBreakdown({ costs, periodLabel }: { costs: Schemas["UsageCosts"]; periodLabel: string }) {
  return (
    <section aria-labelledby="costs-title">
      <h2 id="costs-title">Costs, {periodLabel.toLowerCase()}</h2>
      <p className="hint">Total {usd(costs.total_cost_usd)}, priced from runs, tasks and compute time by execution mode.</p>
      <div className="chart-pair">
        <Breakdown
          title="By flow"
          rows={costs.by_flow.map((f) => ({ name: f.flow_name, cost: f.cost_usd, count: f.run_count }))}
          countLabel="Runs"
          link={(name) => `/flows/${encodeURIComponent(name)}`}
        />
        <Breakdown
          title="By executor"
          rows={costs.by_executor.map((e) => ({ name: e.executor, cost: e.cost_usd, count: e.task_count }))}
          countLabel="Tasks"
        />
      </div>
    </section>
  );
}

type Row = { name: string; cost: number; count: number };

function Breakdown({ title, rows, countLabel, link }: { title: string; rows: Row[]; countLabel: string; link?: (name: string) => string }) {
  const top = rows.slice(0, TOP);
  const caption = rows.length
    ? `${rows.length} in all; the most costly is ${rows[0].name} (${usd(rows[0].cost)}).`
    : "Nothing ran in this period.";
  return (
    <ChartFigure
      title={title}
      caption={caption}
      chart={
        <ResponsiveContainer width="100%" height={Math.max(120, top.length * 36 + 40)}>
          <BarChart accessibilityLayer={false} data={top} layout="vertical" margin={{ top: 4, right: 16, bottom: 4, left: 8 }}>
            <CartesianGrid stroke={chartTheme.grid} horizontal={false} />
            <XAxis type="number" tick={chartTheme.axis} stroke={chartTheme.grid} tickFormatter={(v: number) => usd(v)} />
            <YAxis type="category" dataKey="name" tick={chartTheme.axis} stroke={chartTheme.grid} width={140} />
            <Tooltip {...chartTheme.tooltip} formatter={(value) => [usd(Number(value)), "Cost"]} />
            <Bar dataKey="cost" name="Cost" fill={chartTheme.series[1]} radius={[0, 3, 3, 0]} isAnimationActive={false} />
          </BarChart>
        </ResponsiveContainer>
      }
      table={
        <table>
          <caption className="visually-hidden">Costs {title.toLowerCase()}</caption>
          <thead>
            <tr><th scope="col">Name</th><th scope="col" className="num">Cost</th><th scope="col" className="num">{countLabel}</th></tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name}>
                <th scope="row">{link ? <Link to={link(row.name)}>{row.name}</Link> : row.name}</th>
                <td className="num">{usd(row.cost)}</td>
                <td className="num">{row.count.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      }
    />
  );
}
