import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { emptyRule, ruleBody, ruleFormErrors, TRIGGERS, type RuleForm as Form, type Trigger } from "../../lib/alerts";
import { useAllFlows } from "../../lib/flowsQueries";
import { Field } from "../../pages/settings/Field";
import { ErrorNote } from "../common";
import { alertKeys } from "./queries";

/** A new alert rule: which run events (trigger, optionally one flow) go to which channels. */
export function RuleForm({ channels }: { channels: Schemas["ChannelSummary"][] }) {
  const queries = useQueryClient();
  const flows = useAllFlows();
  const flowList = useId();
  const channelsId = useId();
  const [form, setForm] = useState<Form>(emptyRule);
  const [tried, setTried] = useState(false);
  const errors = tried ? ruleFormErrors(form) : {};
  const create = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/alert-rules", { body: ruleBody(form) })),
    onSuccess: () => {
      setForm(emptyRule());
      setTried(false);
      void queries.invalidateQueries({ queryKey: alertKeys.rules() });
    },
  });
  const set = (patch: Partial<Form>) => setForm({ ...form, ...patch });
  return (
    <>
      <h3 id="create-rule-title">Add a rule</h3>
      <form
        className="stack"
        aria-labelledby="create-rule-title"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setTried(true);
          if (Object.keys(ruleFormErrors(form)).length === 0) create.mutate();
        }}
      >
        <Field label="Rule name" error={errors.name}>
          <input maxLength={128} value={form.name} onChange={(e) => set({ name: e.target.value })} />
        </Field>
        <Field label="When">
          <select value={form.trigger} onChange={(e) => set({ trigger: e.target.value as Trigger })}>
            {Object.entries(TRIGGERS).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
          </select>
        </Field>
        {form.trigger === "on_sla_breach" && (
          <Field label="SLA (minutes)" hint="Counted from the run's creation: time queued counts too." error={errors.slaMinutes}>
            <input type="number" min={0.1} step="any" value={form.slaMinutes} onChange={(e) => set({ slaMinutes: e.target.value })} />
          </Field>
        )}
        <Field label="Flow (optional)" hint="Leave empty for every flow of the organization.">
          <input list={flowList} value={form.flowName} autoComplete="off" onChange={(e) => set({ flowName: e.target.value })} />
        </Field>
        <datalist id={flowList}>{flows.data?.map((flow) => <option key={flow.flow_name} value={flow.flow_name} />)}</datalist>
        <fieldset className="scopes" aria-describedby={errors.channelIds ? `${channelsId}-error` : undefined}>
          <legend>Send to</legend>
          {channels.map((channel) => (
            <label key={channel.channel_id} className="check">
              <input
                type="checkbox"
                checked={form.channelIds.includes(channel.channel_id)}
                onChange={(e) =>
                  set({ channelIds: e.target.checked ? [...form.channelIds, channel.channel_id] : form.channelIds.filter((id) => id !== channel.channel_id) })
                }
              />
              {channel.name} <span className="hint">({channel.channel_type}{channel.enabled ? "" : ", disabled"})</span>
            </label>
          ))}
          {errors.channelIds && <small id={`${channelsId}-error`} className="error">{errors.channelIds}</small>}
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={form.enabled} onChange={(e) => set({ enabled: e.target.checked })} /> Enabled
        </label>
        <ErrorNote error={create.error} />
        <div>
          <button type="submit" className="button primary" disabled={create.isPending}>{create.isPending ? "Saving…" : "Create rule"}</button>
        </div>
      </form>
    </>
  );
}
