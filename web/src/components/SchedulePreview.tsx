// What the schedule in the form means: a sentence for a cron expression, and its next fire times in
// the schedule's zone (with the zone's name) beside the viewer's own time, as the server will fire
// them (src/dagy/server/domains/schedules/timing.py).
import { useEffect, useState } from "react";
import { checkCron, describeCron } from "../lib/cron";
import { formatInZone, localZone } from "../lib/cronZone";
import { describeInterval, intervalSeconds, previewFires, type ScheduleForm } from "../lib/schedule";

function useNow(everyMs = 30_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

function summary(form: ScheduleForm): string | null {
  if (form.mode === "cron") {
    const cron = checkCron(form.cronExpression);
    return cron.kind === "ok" ? describeCron(cron) : null;
  }
  if (form.mode === "interval") {
    const seconds = intervalSeconds(form);
    return seconds > 0 ? `Runs ${describeInterval(seconds)}, counted from ${form.startAt ? "the start time" : "when the schedule was created"}.` : null;
  }
  return null;
}

export function SchedulePreview({ form, createdAt }: { form: ScheduleForm; createdAt?: number }) {
  const now = useNow();
  const preview = previewFires(form, now, createdAt);
  const invalidCron = form.mode === "cron" && checkCron(form.cronExpression).kind === "invalid";
  const local = localZone();
  const sentence = summary(form);
  return (
    <section className="schedule-preview card" aria-labelledby="schedule-preview-title">
      <h3 id="schedule-preview-title">When it runs</h3>
      <div aria-live="polite">
        {sentence && <p className="sch-sentence">{sentence}</p>}
        {preview.kind === "none" && <p className="sch-hint">{invalidCron ? "Fix the cron expression to see when it runs." : preview.message}</p>}
        {!form.enabled && preview.kind === "times" && <p className="sch-hint">Disabled: these are the times it would run once enabled.</p>}
      </div>
      {preview.kind === "times" && (
        <>
          <p className="sch-hint">
            Next {preview.times.length === 1 ? "run" : `${preview.times.length} runs`} in <strong>{form.timezone}</strong>
            {form.timezone !== local && <> (and your time, {local})</>}:
          </p>
          <ol className="sch-fire-times" aria-label="Next fire times">
            {preview.times.map((time) => (
              <li key={time}>
                <time dateTime={new Date(time).toISOString()}>{formatInZone(time, form.timezone)}</time>
                {form.timezone !== local && <span className="sch-local"> · {formatInZone(time, local)} your time</span>}
              </li>
            ))}
          </ol>
        </>
      )}
    </section>
  );
}
