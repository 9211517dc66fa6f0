import { ChannelForm } from "../../components/alerts/ChannelForm";
import { ChannelList } from "../../components/alerts/ChannelList";
import { useChannels, useRules } from "../../components/alerts/queries";
import { RuleForm } from "../../components/alerts/RuleForm";
import { RuleList } from "../../components/alerts/RuleList";
import "../../components/alerts/alerts.css";
import { ErrorNote } from "../../components/common";

/** /settings/notifications: where alerts go (channels) and which run events send them (rules),
 * with a test send per rule and each rule's delivery history. */
export function Notifications() {
  const channels = useChannels();
  const rules = useRules();
  const channelItems = channels.data ?? [];
  return (
    <section aria-labelledby="notifications-title">
      <h1 id="notifications-title">Notifications</h1>
      <p className="lead">
        Get told when runs fail, succeed, retry or miss their SLA. A <strong>channel</strong> is a destination (Slack,
        email, a webhook, PagerDuty); a <strong>rule</strong> sends matching run events to one or more channels. Credentials
        are stored encrypted and shown masked.
      </p>

      <h2 id="channels-title">Channels</h2>
      {channels.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={channels.error} />
      {channels.data && <ChannelList channels={channelItems} />}

      <h2 id="rules-title">Alert rules</h2>
      {rules.isPending && <p aria-busy="true">Loading…</p>}
      <ErrorNote error={rules.error} />
      {rules.data && channels.data && <RuleList rules={rules.data} channels={channelItems} />}

      <div className="alerts-forms">
        <div><ChannelForm /></div>
        <div>{channelItems.length > 0 ? <RuleForm channels={channelItems} /> : channels.data && <p className="hint">Add a channel to create a rule.</p>}</div>
      </div>
    </section>
  );
}
