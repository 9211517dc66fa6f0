// Presets that write a cron expression: pick one, adjust its time or day, and the expression field
// follows.
import { useState } from "react";
import { PRESET_LABELS, presetExpression, type CronPreset } from "../lib/cron";

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const EVERY_MINUTES = [5, 10, 15, 20, 30];

type Choice = { kind: CronPreset["kind"] | ""; every: number; minute: number; time: string; weekday: number; day: number };

function preset(choice: Choice): CronPreset | null {
  switch (choice.kind) {
    case "":
      return null;
    case "every-minutes":
      return { kind: choice.kind, every: choice.every };
    case "hourly":
      return { kind: choice.kind, minute: choice.minute };
    case "weekly":
      return { kind: choice.kind, weekday: choice.weekday, time: choice.time };
    case "monthly":
      return { kind: choice.kind, day: choice.day, time: choice.time };
    default:
      return { kind: choice.kind, time: choice.time };
  }
}

export function CronHelper({ onPick, disabled = false }: { onPick: (expression: string) => void; disabled?: boolean }) {
  const [choice, setChoice] = useState<Choice>({ kind: "", every: 15, minute: 0, time: "09:00", weekday: 1, day: 1 });
  function update(change: Partial<Choice>) {
    const next = { ...choice, ...change };
    setChoice(next);
    const picked = preset(next);
    if (picked && /^\d{2}:\d{2}$/.test(next.time)) onPick(presetExpression(picked));
  }
  return (
    <fieldset className="cron-helper" disabled={disabled}>
      <legend>Cron helper</legend>
      <div className="sch-row">
        <label>
          <span>Preset</span>
          <select value={choice.kind} onChange={(e) => update({ kind: e.target.value as Choice["kind"] })}>
            <option value="">Choose a preset…</option>
            {Object.entries(PRESET_LABELS).map(([kind, label]) => (
              <option key={kind} value={kind}>{label}</option>
            ))}
          </select>
        </label>
        {choice.kind === "every-minutes" && (
          <label>
            <span>Interval</span>
            <select value={choice.every} onChange={(e) => update({ every: Number(e.target.value) })}>
              {EVERY_MINUTES.map((n) => <option key={n} value={n}>{n} minutes</option>)}
            </select>
          </label>
        )}
        {choice.kind === "hourly" && (
          <label>
            <span>Minute past the hour</span>
            <input type="number" min={0} max={59} value={choice.minute} onChange={(e) => update({ minute: Math.min(59, Math.max(0, Number(e.target.value) || 0)) })} />
          </label>
        )}
        {choice.kind === "weekly" && (
          <label>
            <span>Day of the week</span>
            <select value={choice.weekday} onChange={(e) => update({ weekday: Number(e.target.value) })}>
              {WEEKDAYS.map((day, index) => <option key={day} value={index}>{day}</option>)}
            </select>
          </label>
        )}
        {choice.kind === "monthly" && (
          <label>
            <span>Day of the month</span>
            <input type="number" min={1} max={31} value={choice.day} onChange={(e) => update({ day: Math.min(31, Math.max(1, Number(e.target.value) || 1)) })} />
          </label>
        )}
        {["daily", "weekdays", "weekly", "monthly"].includes(choice.kind) && (
          <label>
            <span>Time of day</span>
            <input type="time" value={choice.time} onChange={(e) => update({ time: e.target.value })} />
          </label>
        )}
      </div>
    </fieldset>
  );
}
