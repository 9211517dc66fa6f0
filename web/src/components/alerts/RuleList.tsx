import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { Link } from "react-router";
import { api, unwrap, type Schemas } from "../../api/client";
import { TRIGGERS, type Trigger } from "../../lib/alerts";
import { ConfirmButton, EmptyState, ErrorNote } from "../common";
import { Deliveries } from "./Deliveries";
import { alertKeys } from "./queries";

type Rule = Schemas["AlertRuleSummary"];
type Channel = Schemas["ChannelSummary"];

/** The org's rules, each with a test send, its delivery history and delete. */
export function RuleList({ rules, channels }: { rules: Rule[]; channels: Channel[] }) {
  if (rules.length === 0) {
    return (
      <EmptyState title="No alert rules yet">
        <p>A rule sends a run event (a failure, a success, a retry, a missed SLA), of one flow or of all, to channels. {channels.length ? "Add one below." : "Add a channel first, then a rule below."}</p>
      </EmptyState>
    );
  }
  const names = new Map(channels.map((c) => [c.channel_id, c.name]));
  return (
    <table aria-labelledby="rules-title">
      <thead>
        <tr>
          <th scope="col">Name</th><th scope="col">When</th><th scope="col">Flow</th><th scope="col">Channels</th><th scope="col">State</th>
          <th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {rules.map((rule) => <RuleRow key={rule.rule_id} rule={rule} channelName={(id) => names.get(id) ?? id} />)}
      </tbody>
    </table>
  );
}

function RuleRow({ rule, channelName }: { rule: Rule; channelName: (id: string) => string }) {
  const queries = useQueryClient();
  const [history, setHistory] = useState(false);
  const resultId = useId();
  const historyId = useId();
  const test = useMutation({
    mutationFn: async () => unwrap(await api.POST("/v1/alert-rules/{rule_id}/test", { params: { path: { rule_id: rule.rule_id } } })),
  });
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/v1/alert-rules/{rule_id}", { params: { path: { rule_id: rule.rule_id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: alertKeys.rules() }),
  });
  const showResult = test.isPending || test.isError || test.isSuccess;
  return (
    <>
      <tr>
        <td>{rule.name}</td>
        <td>{TRIGGERS[rule.trigger as Trigger] ?? rule.trigger}</td>
        <td>{rule.flow_name ? <Link to={`/flows/${encodeURIComponent(rule.flow_name)}`}>{rule.flow_name}</Link> : <span className="hint">every flow</span>}</td>
        <td>{rule.channel_ids.map(channelName).join(", ")}</td>
        <td>{rule.enabled ? "Enabled" : <span className="hint">Disabled</span>}</td>
        <td className="row-actions">
          <button type="button" className="button" aria-controls={resultId} disabled={test.isPending} onClick={() => test.mutate()}>
            {test.isPending ? "Sending…" : "Send test"}
          </button>
          <button type="button" className="button" aria-expanded={history} aria-controls={historyId} onClick={() => setHistory(!history)}>
            {history ? "Hide deliveries" : "Deliveries"}
          </button>
          <ConfirmButton
            label="Delete"
            confirmLabel="Delete rule"
            danger
            question={<p>Delete the rule <strong>{rule.name}</strong>? Its pending deliveries are dropped and its history goes with it.</p>}
            onConfirm={() => remove.mutateAsync()}
          />
        </td>
      </tr>
      {showResult && (
        <tr id={resultId} className="detail-row">
          <td colSpan={6}>
            <div aria-live="polite" aria-label={`Test of ${rule.name}`}>
              {test.isPending && <p aria-busy="true">Sending a test message to each channel…</p>}
              <ErrorNote error={test.error} />
              {test.data && <TestResult result={test.data} />}
            </div>
          </td>
        </tr>
      )}
      {history && (
        <tr id={historyId} className="detail-row">
          <td colSpan={6}>
            <Deliveries ruleId={rule.rule_id} ruleName={rule.name} channelName={channelName} />
          </td>
        </tr>
      )}
    </>
  );
}

function TestResult({ result }: { result: Schemas["AlertRuleTested"] }) {
  return (
    <div className={`test-result test-${result.status}`}>
      <p><strong>{result.status === "sent" ? "Sent" : result.status === "partial" ? "Partly sent" : "Not sent"}</strong>: {result.message}.</p>
      <ul>
        {result.channels.map((channel) => (
          <li key={channel.channel_id}>
            {channel.name} ({channel.channel_type}):{" "}
            {channel.delivered ? <span className="delivered">delivered</span> : <span className="error">not delivered: {channel.error}</span>}
          </li>
        ))}
      </ul>
      <p className="hint">A test goes out once, outside the delivery history below (which lists the messages of real run events).</p>
    </div>
  );
}
