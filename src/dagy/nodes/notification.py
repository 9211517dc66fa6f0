"""Notifications: telling people and systems what a flow found or did."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition

_MESSAGE_HINT = "A template: {input} is the incoming data, {run_id} the run."
_DELIVERY = outbound(("json",), name="Delivery")


class SlackNotifyNode(NodeType):
    definition = NodeDefinition(
        node_type="slack_notify",
        label="Slack Notify",
        description="Post a message to a Slack channel through an incoming webhook.",
        category="notification",
        icon="Slack",
        color="rose",
        tags=("slack", "chat", "message", "alert", "notify"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("webhook_url", "Webhook URL", "secret", required=True),
            ConfigField("message", "Message", "string", required=True, description=_MESSAGE_HINT),
            ConfigField("channel", "Channel", "string", description="Overrides the webhook's channel."),
            ConfigField("username", "Username", "string"),
        ),
    )


class EmailSendNode(NodeType):
    definition = NodeDefinition(
        node_type="email_send",
        label="Send Email",
        description="Send an email over SMTP.",
        category="notification",
        icon="Mail",
        color="rose",
        tags=("email", "smtp", "mail", "notify", "report"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("to", "To", "array", required=True),
            ConfigField("subject", "Subject", "string", required=True),
            ConfigField("body", "Body", "string", required=True, description=_MESSAGE_HINT),
            ConfigField("body_format", "Body format", "enum", default="text", options=("text", "html")),
            ConfigField("cc", "Cc", "array"),
            ConfigField("from_address", "From", "string"),
            ConfigField("smtp_host", "SMTP host", "string", description="Defaults to the server's SMTP."),
            ConfigField("smtp_port", "SMTP port", "integer", default=587),
            ConfigField("smtp_username", "SMTP username", "string"),
            ConfigField("smtp_password", "SMTP password", "secret"),
        ),
    )


class WebhookPostNode(NodeType):
    definition = NodeDefinition(
        node_type="webhook_post",
        label="Webhook Post",
        description="Send the incoming data as JSON to a URL, optionally signed with HMAC-SHA256.",
        category="notification",
        icon="Webhook",
        color="rose",
        tags=("webhook", "http", "post", "callback", "notify"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("url", "URL", "string", required=True),
            ConfigField("method", "Method", "enum", default="POST", options=("POST", "PUT", "PATCH")),
            ConfigField("headers", "Headers", "object"),
            ConfigField("payload", "Payload", "object", description="Sent instead of the incoming data."),
            ConfigField("auth_token", "Bearer token", "secret"),
            ConfigField("signing_secret", "Signing secret", "secret"),
            ConfigField("timeout_seconds", "Timeout (seconds)", "number", default=10),
        ),
    )


class PagerDutyAlertNode(NodeType):
    definition = NodeDefinition(
        node_type="pagerduty_alert",
        label="PagerDuty Alert",
        description="Trigger, acknowledge or resolve a PagerDuty incident (Events API v2).",
        category="notification",
        icon="Siren",
        color="rose",
        tags=("pagerduty", "incident", "on-call", "alert", "page"),
        connectors=(inbound(), _DELIVERY),
        config_schema=(
            ConfigField("routing_key", "Routing key", "secret", required=True),
            ConfigField("summary", "Summary", "string", required=True, description=_MESSAGE_HINT),
            ConfigField(
                "severity",
                "Severity",
                "enum",
                default="error",
                options=("critical", "error", "warning", "info"),
            ),
            ConfigField(
                "event_action",
                "Action",
                "enum",
                default="trigger",
                options=("trigger", "acknowledge", "resolve"),
            ),
            ConfigField("dedup_key", "Dedup key", "string"),
            ConfigField("source", "Source", "string", default="dagy"),
        ),
    )


NODES: tuple[type[NodeType], ...] = (SlackNotifyNode, EmailSendNode, WebhookPostNode, PagerDutyAlertNode)
