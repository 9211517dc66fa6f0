import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useId, useState } from "react";
import { api, unwrap, type Schemas } from "../../api/client";
import { CHANNEL_TYPES, configFacts, type ChannelType } from "../../lib/alerts";
import { when } from "../StatusBadge";
import { ConfirmButton, EmptyState, ErrorNote } from "../common";
import { alertKeys } from "./queries";

type Channel = Schemas["ChannelSummary"];

/** The org's channels; each one's config on request, as the API answers it (credentials masked). */
export function ChannelList({ channels }: { channels: Channel[] }) {
  if (channels.length === 0) {
    return (
      <EmptyState title="No channels yet">
        <p>A channel is where alerts go: a Slack channel, email addresses, your own HTTP endpoint or a PagerDuty service. Add one below, then a rule that uses it.</p>
      </EmptyState>
    );
  }
  return (
    <table aria-labelledby="channels-title">
      <thead>
        <tr>
          <th scope="col">Name</th><th scope="col">Type</th><th scope="col">State</th><th scope="col">Created</th>
          <th scope="col"><span className="visually-hidden">Actions</span></th>
        </tr>
      </thead>
      <tbody>
        {channels.map((channel) => <ChannelRow key={channel.channel_id} channel={channel} />)}
      </tbody>
    </table>
  );
}

function ChannelRow({ channel }: { channel: Channel }) {
  const queries = useQueryClient();
  const [open, setOpen] = useState(false);
  const detailId = useId();
  const detail = useQuery({
    queryKey: alertKeys.channel(channel.channel_id),
    enabled: open,
    queryFn: async () => unwrap(await api.GET("/v1/channels/{channel_id}", { params: { path: { channel_id: channel.channel_id } } })),
  });
  const remove = useMutation({
    mutationFn: async () => unwrap(await api.DELETE("/v1/channels/{channel_id}", { params: { path: { channel_id: channel.channel_id } } })),
    onSuccess: () => queries.invalidateQueries({ queryKey: alertKeys.channels() }),
  });
  return (
    <>
      <tr>
        <td>{channel.name}</td>
        <td>{CHANNEL_TYPES[channel.channel_type as ChannelType] ?? channel.channel_type}</td>
        <td>{channel.enabled ? "Enabled" : <span className="hint">Disabled</span>}</td>
        <td>{when(channel.created_at)}</td>
        <td className="row-actions">
          <button type="button" className="button" aria-expanded={open} aria-controls={detailId} onClick={() => setOpen(!open)}>
            {open ? "Hide settings" : "Settings"}
          </button>
          <ConfirmButton
            label="Delete"
            confirmLabel="Delete channel"
            danger
            question={<p>Delete the channel <strong>{channel.name}</strong>? Rules that use it must drop it first; its delivery history goes with it.</p>}
            onConfirm={() => remove.mutateAsync()}
          />
        </td>
      </tr>
      {open && (
        <tr id={detailId} className="detail-row">
          <td colSpan={5}>
            {detail.isPending && <p aria-busy="true">Loading…</p>}
            <ErrorNote error={detail.error} />
            {detail.data && (
              <dl className="facts" aria-label={`Settings of ${channel.name}`}>
                {configFacts(detail.data.config_json).map(([key, value]) => (
                  <div key={key} style={{ display: "contents" }}>
                    <dt><code>{key}</code></dt>
                    <dd><code>{value}</code></dd>
                  </div>
                ))}
              </dl>
            )}
          </td>
        </tr>
      )}
    </>
  );
}
